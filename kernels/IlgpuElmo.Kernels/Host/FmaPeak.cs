using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The machine's measured fp32 FMA peak for a host GEMM micro-kernel's vector width: each thread runs 12
/// independent chains of fused multiply-adds (as many accumulators as the micro-kernels keep, enough to
/// cover the FMA latency on two pipes), with no loads, so nothing but the FMA units limits it. The
/// denominator of "fraction of peak" in `elmo bench`: a GEMM or a training step at x GFLOP/s uses x / peak
/// of what this core could do.
/// </summary>
public static class FmaPeak
{
    const int Chains = 12;

    /// <summary>
    /// GFLOP/s (2 per multiply-add per lane) of <paramref name="threads"/> threads at once, each running the
    /// loop of <paramref name="kernel"/>'s width for about <paramref name="seconds"/>: the best of three runs
    /// (a run that another process interrupted reads low, never high).
    /// </summary>
    public static double Measure(HostGemmKernel kernel, int threads, double seconds = 0.1)
    {
        if (!HostGemm.IsSupported(kernel)) throw new PlatformNotSupportedException($"The {kernel} FMA loop needs SIMD this processor lacks.");
        int lanes = HostGemmBlocking.ColumnsOf(kernel) / 2;
        long iterations = 1 << 16;
        // Calibrate on one thread until a run takes a tenth of the target.
        while (Time(kernel, 1, iterations) < seconds / 10) iterations *= 4;
        iterations = (long)(iterations * seconds / Math.Max(Time(kernel, 1, iterations), 1e-6));
        double best = double.MaxValue;
        for (int run = 0; run < 3; run++) best = Math.Min(best, Time(kernel, threads, iterations));
        return 2.0 * Chains * lanes * iterations * threads / best / 1e9;
    }

    /// <summary>Seconds for <paramref name="threads"/> threads, started together, each to run <paramref name="iterations"/> loop turns.</summary>
    static double Time(HostGemmKernel kernel, int threads, long iterations)
    {
        using var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        float sink = 0;
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                float result = kernel switch
                {
                    HostGemmKernel.Avx512 => Chains512(iterations),
                    HostGemmKernel.Avx2 => Chains256(iterations),
                    _ => Chains128(iterations),
                };
                Interlocked.Exchange(ref sink, result);
            }) { IsBackground = true };
            workers[t].Start();
        }
        start.SignalAndWait();
        long begin = Stopwatch.GetTimestamp();
        foreach (var w in workers) w.Join();
        double elapsed = Stopwatch.GetElapsedTime(begin).TotalSeconds;
        GC.KeepAlive(sink);
        return elapsed;
    }

    // a = a * y + x with y just below 1: the chains converge instead of overflowing, whatever the count.
    // One loop per width, written out three times on purpose: each must hold its 12 chains in registers of
    // its own vector type, with nothing between the FMAs that a generic or a delegate might add.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static float Chains512(long iterations)
    {
        Vector512<float> x = Vector512.Create(1f), y = Vector512.Create(0.999f);
        Vector512<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, y, x); a1 = Vector512.FusedMultiplyAdd(a1, y, x);
            a2 = Vector512.FusedMultiplyAdd(a2, y, x); a3 = Vector512.FusedMultiplyAdd(a3, y, x);
            a4 = Vector512.FusedMultiplyAdd(a4, y, x); a5 = Vector512.FusedMultiplyAdd(a5, y, x);
            a6 = Vector512.FusedMultiplyAdd(a6, y, x); a7 = Vector512.FusedMultiplyAdd(a7, y, x);
            a8 = Vector512.FusedMultiplyAdd(a8, y, x); a9 = Vector512.FusedMultiplyAdd(a9, y, x);
            a10 = Vector512.FusedMultiplyAdd(a10, y, x); a11 = Vector512.FusedMultiplyAdd(a11, y, x);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float Chains256(long iterations)
    {
        Vector256<float> x = Vector256.Create(1f), y = Vector256.Create(0.999f);
        Vector256<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, y, x); a1 = Vector256.FusedMultiplyAdd(a1, y, x);
            a2 = Vector256.FusedMultiplyAdd(a2, y, x); a3 = Vector256.FusedMultiplyAdd(a3, y, x);
            a4 = Vector256.FusedMultiplyAdd(a4, y, x); a5 = Vector256.FusedMultiplyAdd(a5, y, x);
            a6 = Vector256.FusedMultiplyAdd(a6, y, x); a7 = Vector256.FusedMultiplyAdd(a7, y, x);
            a8 = Vector256.FusedMultiplyAdd(a8, y, x); a9 = Vector256.FusedMultiplyAdd(a9, y, x);
            a10 = Vector256.FusedMultiplyAdd(a10, y, x); a11 = Vector256.FusedMultiplyAdd(a11, y, x);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float Chains128(long iterations)
    {
        Vector128<float> x = Vector128.Create(1f), y = Vector128.Create(0.999f);
        Vector128<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector128.FusedMultiplyAdd(a0, y, x); a1 = Vector128.FusedMultiplyAdd(a1, y, x);
            a2 = Vector128.FusedMultiplyAdd(a2, y, x); a3 = Vector128.FusedMultiplyAdd(a3, y, x);
            a4 = Vector128.FusedMultiplyAdd(a4, y, x); a5 = Vector128.FusedMultiplyAdd(a5, y, x);
            a6 = Vector128.FusedMultiplyAdd(a6, y, x); a7 = Vector128.FusedMultiplyAdd(a7, y, x);
            a8 = Vector128.FusedMultiplyAdd(a8, y, x); a9 = Vector128.FusedMultiplyAdd(a9, y, x);
            a10 = Vector128.FusedMultiplyAdd(a10, y, x); a11 = Vector128.FusedMultiplyAdd(a11, y, x);
        }
        return Vector128.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
