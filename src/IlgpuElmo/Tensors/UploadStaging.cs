using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IlgpuElmo.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Tensors;

/// <summary>
/// Uploads that do not make the host wait. ILGPU's CopyFromCPU waits for the whole stream (the source span
/// could be freed as soon as it returns); here the data is first copied into a page-locked host arena and
/// the device copy is enqueued from there, so the caller's span is free at once and the stream keeps
/// running. The arena is reused across steps: its space is handed out from the start again only after a
/// host wait on the stream (<see cref="DeviceCounters.WaitsOn"/>) has drained every copy that read it.
/// Should the work between two waits stage more than the arena holds, it waits once and grows: sized by
/// the first step, it never grows again.
/// </summary>
public sealed class UploadStaging : IDisposable
{
    const int Alignment = 256;
    static readonly ConditionalWeakTable<AcceleratorStream, UploadStaging> ByStream = new();
    readonly AcceleratorStream stream;
    PageLockedArray1D<byte> arena;
    long used, waitsAtStart;

    public UploadStaging(AcceleratorStream stream, long initialBytes = 1 << 16)
    {
        this.stream = stream;
        arena = Allocate(initialBytes);
        waitsAtStart = DeviceCounters.WaitsOn(stream);
        ByStream.AddOrUpdate(stream, this);
    }

    /// <summary>The staging of <paramref name="stream"/>, if it has one.</summary>
    public static UploadStaging? Of(AcceleratorStream stream) => ByStream.TryGetValue(stream, out var staging) ? staging : null;

    /// <summary>Bytes of page-locked host memory held.</summary>
    public long CapacityBytes => arena.Length;

    /// <summary>Enqueues target = source on the stream; returns before the copy has run.</summary>
    public void Upload<T>(ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        if (source.Length != target.Length)
            throw new ArgumentException($"Upload: {source.Length} elements into a view of {target.Length}.");
        if (source.IsEmpty) return;
        var bytes = MemoryMarshal.AsBytes(source);
        long offset = Reserve(bytes.Length);
        bytes.CopyTo(arena.Span.Slice((int)offset, bytes.Length));
        target.Cast<byte>().CopyFrom(stream, arena.ArrayView.SubView(offset, bytes.Length));
        DeviceCounters.Of(stream.Accelerator).CountUpload();
    }

    /// <summary>Grows the arena to hold at least <paramref name="bytes"/> between two waits (call before the work, e.g. from the options).</summary>
    public void EnsureCapacity(long bytes)
    {
        if (bytes <= arena.Length) return;
        if (used > 0) DeviceCounters.Wait(stream);
        waitsAtStart = DeviceCounters.WaitsOn(stream);
        used = 0;
        Grow(bytes);
    }

    void Grow(long bytes)
    {
        arena.Dispose();
        arena = Allocate(bytes);
    }

    long Reserve(long bytes)
    {
        long waits = DeviceCounters.WaitsOn(stream);
        if (waits != waitsAtStart)
        {
            used = 0;
            waitsAtStart = waits;
        }
        if (used + bytes > arena.Length)
        {
            // Copies enqueued since the last wait still read the arena: drain them before reusing or freeing it.
            long needed = used + bytes;
            DeviceCounters.Wait(stream);
            waitsAtStart = DeviceCounters.WaitsOn(stream);
            used = 0;
            if (needed > arena.Length) Grow(Math.Max(needed, 2 * arena.Length));
        }
        long offset = used;
        used = (used + bytes + Alignment - 1) / Alignment * Alignment;
        return offset;
    }

    PageLockedArray1D<byte> Allocate(long bytes)
    {
        DeviceCounters.Of(stream.Accelerator).CountAllocation();
        return stream.Accelerator.AllocatePageLocked1D<byte>((bytes + Alignment - 1) / Alignment * Alignment);
    }

    public void Dispose()
    {
        ByStream.Remove(stream);
        arena.Dispose();
    }
}
