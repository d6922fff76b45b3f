using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// What every launcher needs to know about where it runs: the accelerator, and whether kernel bodies
/// are launched through ILGPU or called directly as plain parallel loops on the host.
/// </summary>
/// <remarks>
/// Host execution exists because ILGPU's CPU accelerator simulates GPU threads at about 1 microsecond
/// each; calling an implicitly grouped kernel's static method from a parallel loop over views of CPU
/// accelerator buffers computes the same result about 100x faster. Kernels that use groups, shared
/// memory or warps cannot run that way; their launchers provide a host implementation of their own.
/// </remarks>
public sealed class KernelRuntime
{
    public KernelRuntime(Accelerator accelerator, bool runOnHost)
    {
        if (runOnHost && accelerator.AcceleratorType != AcceleratorType.CPU)
            throw new ArgumentException("Host execution needs ILGPU's CPU accelerator (its buffers are host memory).");
        Accelerator = accelerator;
        RunOnHost = runOnHost;
        Counters = DeviceCounters.Of(accelerator);
    }

    /// <summary>Launch, wait and copy counts of this accelerator (every launch through this runtime counts, host loops too).</summary>
    public DeviceCounters Counters { get; }

    /// <summary>Counts a launch a launcher makes without <see cref="For"/> (explicitly grouped kernels and their host versions).</summary>
    public void CountLaunch() => Counters.CountLaunches();

    public Accelerator Accelerator { get; }

    /// <summary>True: kernel bodies run as parallel loops on the host (CPU accelerator memory only).</summary>
    public bool RunOnHost { get; }

    public AcceleratorType Type => Accelerator.AcceleratorType;

    /// <summary>Largest group a launcher may use on this accelerator (16 on ILGPU's default CPU device).</summary>
    public int MaxGroupSize => Accelerator.MaxNumThreadsPerGroup;

    public int WarpSize => Accelerator.WarpSize;

    /// <summary>Runs <paramref name="body"/> for every index in [0, n) on the host, in a few coarse chunks.</summary>
    public static void HostFor(long n, Action<int> body)
    {
        if (n <= 0) return;
        int workers = Environment.ProcessorCount;
        if (n < 2048 || workers == 1)
        {
            for (int i = 0; i < n; i++) body(i);
            return;
        }
        long chunks = Math.Min(n, workers * 4L);
        Parallel.For(0, chunks, c =>
        {
            int start = (int)(n * c / chunks), end = (int)(n * (c + 1) / chunks);
            for (int i = start; i < end; i++) body(i);
        });
    }

    /// <summary>
    /// Runs an implicitly grouped kernel over [0, n): either through ILGPU on <paramref name="stream"/>,
    /// or, in host execution, by calling the same body for each index on the host.
    /// </summary>
    public void For(AcceleratorStream stream, long n, Action<AcceleratorStream, Index1D> launch, Action<int> hostBody)
    {
        if (n <= 0) return;
        if (n > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(n), n, "A launch covers at most 2^31-1 threads.");
        Counters.CountLaunches();
        if (RunOnHost) HostFor(n, hostBody);
        else launch(stream, new Index1D((int)n));
    }
}
