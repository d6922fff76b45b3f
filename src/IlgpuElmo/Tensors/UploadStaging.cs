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
/// <para>Two kinds of upload do not go through the arena and wait instead (<see cref="CopyAndWait"/>):
/// one-time uploads of large tensors (initialisation, loading a model: anything above both the arena's
/// size and <see cref="LargeUploadBytes"/>), which would otherwise pin host memory as large as the largest
/// tensor for the rest of the run; and every upload once page-locked memory could not be had (registration
/// refused, e.g. under a sandbox), which is said in one line on the log and costs speed, never correctness.</para>
/// </summary>
public sealed class UploadStaging : IDisposable
{
    const int Alignment = 256;

    /// <summary>Uploads up to this size always stage; larger ones stage only when the arena already holds them.</summary>
    public const long LargeUploadBytes = 16L << 20;

    /// <summary>The arena never grows past this (a .NET array's limit is 2^31 - 1 bytes); larger uploads wait instead.</summary>
    public const long MaxArenaBytes = 1L << 30;

    static readonly ConditionalWeakTable<AcceleratorStream, UploadStaging> ByStream = new();
    readonly AcceleratorStream stream;
    readonly TextWriter log;
    readonly Func<Accelerator, long, PageLockedArray1D<byte>> allocatePageLocked;
    PageLockedArray1D<byte>? arena;
    long used, waitsAtStart;

    /// <param name="log">Where the one line goes should page-locked memory be refused.</param>
    /// <param name="allocatePageLocked">How the arena is allocated: ILGPU's page-locked array unless a test injects a failure.</param>
    public UploadStaging(AcceleratorStream stream, long initialBytes = 1 << 16, TextWriter? log = null,
        Func<Accelerator, long, PageLockedArray1D<byte>>? allocatePageLocked = null)
    {
        this.stream = stream;
        this.log = log ?? TextWriter.Null;
        this.allocatePageLocked = allocatePageLocked ?? ((accelerator, bytes) => accelerator.AllocatePageLocked1D<byte>(bytes));
        arena = TryAllocate(initialBytes);
        waitsAtStart = DeviceCounters.WaitsOn(stream);
        ByStream.AddOrUpdate(stream, this);
    }

    /// <summary>The staging of <paramref name="stream"/>, if it has one.</summary>
    public static UploadStaging? Of(AcceleratorStream stream) => ByStream.TryGetValue(stream, out var staging) ? staging : null;

    /// <summary>Bytes of page-locked host memory held (0 once it was refused).</summary>
    public long CapacityBytes => arena?.Length ?? 0;

    /// <summary>False once page-locked memory was refused: every upload is then an ordinary copy that waits.</summary>
    public bool IsPageLocked => arena is not null;

    /// <summary>Whether an upload of <paramref name="bytes"/> goes through the arena (else it is copied directly and waited for).</summary>
    public bool Stages(long bytes) => arena is not null && bytes <= MaxArenaBytes && bytes <= Math.Max(arena.Length, LargeUploadBytes);

    /// <summary>Enqueues target = source on the stream: returns before the copy has run when it stages, after it when not (<see cref="Stages"/>).</summary>
    public void Upload<T>(ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        if (source.Length != target.Length)
            throw new ArgumentException($"Upload: {source.Length} elements into a view of {target.Length}.");
        if (source.IsEmpty) return;
        long bytes = (long)source.Length * Unsafe.SizeOf<T>();
        if (!Stages(bytes) || Reserve(bytes) is not { } offset)
        {
            CopyAndWait(stream, source, target);
            return;
        }
        MemoryMarshal.AsBytes(source).CopyTo(arena!.Span.Slice(checked((int)offset), (int)bytes));
        target.Cast<byte>().CopyFrom(stream, arena.ArrayView.SubView(offset, bytes));
        DeviceCounters.Of(stream.Accelerator).CountUpload();
    }

    /// <summary>An ordinary copy from pageable memory that waits for the stream (counted): the source is free when it returns.</summary>
    public static void CopyAndWait<T>(AcceleratorStream stream, ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        target.CopyFromCPU(stream, source);
        DeviceCounters.Of(stream.Accelerator).CountUpload();
        DeviceCounters.Wait(stream);
    }

    /// <summary>Grows the arena to hold at least <paramref name="bytes"/> between two waits (call before the work, e.g. from the options).</summary>
    public void EnsureCapacity(long bytes)
    {
        bytes = Math.Min(bytes, MaxArenaBytes);
        if (arena is null || bytes <= arena.Length) return;
        if (used > 0) DeviceCounters.Wait(stream);
        waitsAtStart = DeviceCounters.WaitsOn(stream);
        used = 0;
        Grow(bytes);
    }

    /// <summary><paramref name="bytes"/> rounded up to the arena's alignment, in 64-bit arithmetic.</summary>
    public static long AlignUp(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    /// <summary>
    /// The arena offset for <paramref name="bytes"/> (at most <see cref="MaxArenaBytes"/>), waiting once and
    /// growing when they do not fit; null when growing was refused (the arena is then gone).
    /// </summary>
    long? Reserve(long bytes)
    {
        long waits = DeviceCounters.WaitsOn(stream);
        if (waits != waitsAtStart)
        {
            used = 0;
            waitsAtStart = waits;
        }
        if (used + bytes > arena!.Length)
        {
            // Copies enqueued since the last wait still read the arena: drain them before reusing or freeing it,
            // and grow to hold all that was staged between two waits (it fits from then on).
            long needed = used + bytes;
            DeviceCounters.Wait(stream);
            waitsAtStart = DeviceCounters.WaitsOn(stream);
            used = 0;
            if (arena.Length < MaxArenaBytes) Grow(Math.Min(MaxArenaBytes, Math.Max(needed, 2 * arena.Length)));
            if (arena is null) return null;
        }
        long offset = used;
        used = AlignUp(used + bytes);
        return offset;
    }

    void Grow(long bytes)
    {
        arena!.Dispose();
        arena = TryAllocate(bytes);
    }

    PageLockedArray1D<byte>? TryAllocate(long bytes)
    {
        try
        {
            var allocated = allocatePageLocked(stream.Accelerator, AlignUp(bytes));
            DeviceCounters.Of(stream.Accelerator).CountAllocation();
            return allocated;
        }
        catch (Exception e)
        {
            log.WriteLine($"warning: page-locked upload staging of {bytes} bytes was refused ({e.GetType().Name}: {e.Message}); " +
                          "uploads fall back to ordinary copies that wait for the stream (slower, same results).");
            return null;
        }
    }

    public void Dispose()
    {
        ByStream.Remove(stream);
        arena?.Dispose();
    }
}
