using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// What every launcher needs to know about where it runs: the accelerator, and whether kernel bodies
/// are launched through ILGPU or called directly as plain parallel loops on the host.
/// </summary>
/// <remarks>
/// Host execution exists because ILGPU's CPU accelerator simulates every GPU thread, at a cost per thread
/// far above the work of most kernels; calling an implicitly grouped kernel's static method from a parallel
/// loop over views of CPU accelerator buffers computes the same result much faster (benchmarks/RESULTS.md
/// times both modes' GEMM). Kernels that use groups, shared
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

    /// <summary>
    /// Largest group every one of <paramref name="launchers"/> (loaded explicitly grouped kernels) may be launched
    /// with: the device's maximum, lowered to each kernel's own where ILGPU exposes it (<see cref="KernelGroupLimit"/>).
    /// Implicitly grouped kernels need no check: ILGPU sizes their groups from the kernel's own occupancy.
    /// </summary>
    public int MaxGroupSizeOf(params Delegate[] launchers) =>
        launchers.Aggregate(MaxGroupSize, (limit, launcher) => Math.Min(limit, KernelGroupLimit.Of(launcher) ?? limit));

    /// <summary>The largest power of two no larger than <paramref name="preferred"/> and <paramref name="limit"/> (at least 1).</summary>
    public static int PowerOfTwoGroup(int preferred, int limit)
    {
        int group = 1;
        while (group * 2 <= Math.Min(preferred, limit)) group *= 2;
        return group;
    }

    public int WarpSize => Accelerator.WarpSize;

    /// <summary>
    /// Runs <paramref name="body"/> for every index in [0, n) on the host, in a few coarse chunks (<see cref="HostWorkers"/>),
    /// on threads only from 2,048 indices: for bodies of an element or a few. A body that covers a row or a block (a
    /// softmax row of 1,000-13,000 classes) goes through <see cref="HostRows"/>, which decides by the elements covered:
    /// by index count, the 1,280 rows of a softmax head ran on one core.
    /// </summary>
    public static void HostFor(long n, Action<int> body)
    {
        if (n <= 0) return;
        int workers = HostWorkers.Shared.Threads;
        if (n < 2048 || workers == 1)
        {
            for (int i = 0; i < n; i++) body(i);
            return;
        }
        int chunks = (int)Math.Min(n, workers * 4L);
        HostWorkers.Shared.Run(chunks, c =>
        {
            int start = (int)(n * c / chunks), end = (int)(n * (c + 1) / chunks);
            for (int i = start; i < end; i++) body(i);
        });
    }

    /// <summary>
    /// Runs <paramref name="rowBody"/> for every row in [0, rows) on the host, rows split into contiguous ranges
    /// (<see cref="HostRowParts"/>) when the <paramref name="elements"/> they cover pay for the hand-off (a
    /// vectorised row body does a few nanoseconds of work per element; waking a second thread costs microseconds).
    /// </summary>
    public static void HostRows(int rows, long elements, Action<int> rowBody) =>
        HostRowRanges(rows, elements, (_, start, end) =>
        {
            for (int r = start; r < end; r++) rowBody(r);
        });

    /// <summary>
    /// <see cref="HostRows"/> by range: <paramref name="range"/>(part, start, end) once for each of the
    /// <see cref="HostRowParts"/> contiguous ranges, for bodies that keep a scratch of their own per part.
    /// </summary>
    public static void HostRowRanges(int rows, long elements, Action<int, int, int> range)
    {
        int parts = HostRowParts(rows, elements);
        if (parts <= 1)
        {
            range(0, 0, rows);
            return;
        }
        HostWorkers.Shared.Run(parts, w => range(w, (int)((long)rows * w / parts), (int)((long)rows * (w + 1) / parts)));
    }

    /// <summary>
    /// How many ranges <see cref="HostRows"/> cuts [0, rows) into: <see cref="HostWorkers.PartsPerThread"/> per
    /// thread, each of at least 8,192 elements, and 1 (the calling thread) under 32,768 elements or on one thread.
    /// </summary>
    public static int HostRowParts(int rows, long elements)
    {
        int threads = HostWorkers.Shared.Threads;
        if (elements < 32768 || threads <= 1) return 1;
        return (int)Math.Max(1, Math.Min(Math.Min(rows, (long)threads * HostWorkers.PartsPerThread), elements / 8192));
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

    /// <summary>
    /// Like <see cref="For"/>, but host execution calls <paramref name="hostRowBody"/> once per row of the
    /// kernel's [rows, n / rows] index space: a row body computes the kernel's maths over whole rows with
    /// vector instructions instead of one element per call.
    /// </summary>
    public void ForRows(AcceleratorStream stream, long n, Action<AcceleratorStream, Index1D> launch, int rows, Action<int> hostRowBody)
    {
        if (n <= 0) return;
        if (n > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(n), n, "A launch covers at most 2^31-1 threads.");
        Counters.CountLaunches();
        if (RunOnHost) HostRows(rows, n, hostRowBody);
        else launch(stream, new Index1D((int)n));
    }
}
