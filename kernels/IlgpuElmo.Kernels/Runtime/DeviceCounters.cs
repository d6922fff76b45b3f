using System.Runtime.CompilerServices;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// What the host asks of one accelerator, counted where it is asked: kernel launches (a launcher's host
/// loop counts as the launch it stands for, so host execution counts what a GPU would run), host waits
/// for a stream, copies each way, and device allocations. The budget tests read these around a training
/// step; nothing else depends on them.
/// </summary>
public sealed class DeviceCounters
{
    static readonly ConditionalWeakTable<Accelerator, DeviceCounters> ByAccelerator = new();
    static readonly ConditionalWeakTable<AcceleratorStream, StrongBox<long>> WaitsByStream = new();
    long launches, synchronizations, uploads, downloads, allocations;

    /// <summary>The counters of <paramref name="accelerator"/> (one set per accelerator, made on first use).</summary>
    public static DeviceCounters Of(Accelerator accelerator) => ByAccelerator.GetValue(accelerator, _ => new DeviceCounters());

    public long Launches => Interlocked.Read(ref launches);
    public long Synchronizations => Interlocked.Read(ref synchronizations);
    public long Uploads => Interlocked.Read(ref uploads);
    public long Downloads => Interlocked.Read(ref downloads);
    public long Allocations => Interlocked.Read(ref allocations);

    public void CountLaunches(int count = 1) => Interlocked.Add(ref launches, count);
    public void CountUpload() => Interlocked.Increment(ref uploads);
    public void CountDownload() => Interlocked.Increment(ref downloads);
    public void CountAllocation() => Interlocked.Increment(ref allocations);

    /// <summary>A snapshot, for differences around a piece of work.</summary>
    public DeviceCounts Read() => new(Launches, Synchronizations, Uploads, Downloads, Allocations);

    /// <summary>Blocks the host until <paramref name="stream"/> has finished its work, and counts the wait.</summary>
    public static void Wait(AcceleratorStream stream)
    {
        Interlocked.Increment(ref Of(stream.Accelerator).synchronizations);
        Interlocked.Increment(ref WaitsByStream.GetValue(stream, _ => new StrongBox<long>()).Value);
        stream.Synchronize();
    }

    /// <summary>How many host waits <paramref name="stream"/> has had: work enqueued before the last one is done.</summary>
    public static long WaitsOn(AcceleratorStream stream) =>
        WaitsByStream.TryGetValue(stream, out var box) ? Interlocked.Read(ref box.Value) : 0;
}

/// <summary>Counter values at one moment; subtract two to get what a piece of work cost.</summary>
public readonly record struct DeviceCounts(long Launches, long Synchronizations, long Uploads, long Downloads, long Allocations)
{
    public static DeviceCounts operator -(DeviceCounts a, DeviceCounts b) =>
        new(a.Launches - b.Launches, a.Synchronizations - b.Synchronizations, a.Uploads - b.Uploads,
            a.Downloads - b.Downloads, a.Allocations - b.Allocations);
}
