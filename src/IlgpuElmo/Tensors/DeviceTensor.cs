using ILGPU;
using ILGPU.Runtime;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tensors;

/// <summary>
/// A row-major tensor in accelerator memory: a view plus a shape (float32 for activations and weights,
/// int32 for ids). A tensor made by an <see cref="ITensorAllocator"/> owns its buffer; slices and reshapes
/// are views of the same memory (no copies) and never free it.
/// </summary>
public sealed class DeviceTensor<T> : IDisposable where T : unmanaged
{
    readonly MemoryBuffer1D<T, Stride1D.Dense>? owner;

    internal DeviceTensor(MemoryBuffer1D<T, Stride1D.Dense> owner, Shape shape)
    {
        this.owner = owner;
        View = owner.View.SubView(0, shape.Size);
        Shape = shape;
    }

    DeviceTensor(ArrayView<T> view, Shape shape)
    {
        if (view.Length != shape.Size)
            throw new ShapeMismatchException($"A view of {view.Length} elements cannot have shape {shape}.");
        View = view;
        Shape = shape;
    }

    /// <summary>Wraps an existing view (not owned) with a shape.</summary>
    public static DeviceTensor<T> FromView(ArrayView<T> view, Shape shape) => new(view, shape);

    public ArrayView<T> View { get; }
    public Shape Shape { get; }
    public long Length => View.Length;
    public bool OwnsBuffer => owner is not null;

    /// <summary>The same memory with another shape of the same size.</summary>
    public DeviceTensor<T> Reshape(params int[] dims)
    {
        var shape = new Shape(dims);
        if (shape.Size != Shape.Size)
            throw new ShapeMismatchException($"Cannot reshape {Shape} ({Shape.Size} elements) to {shape} ({shape.Size} elements).");
        return new DeviceTensor<T>(View, shape);
    }

    /// <summary>Rows [start, start+count) along dimension 0, as a view.</summary>
    public DeviceTensor<T> Slice(int start, int count)
    {
        if (Shape.Rank == 0 || start < 0 || count < 0 || start + count > Shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + count}) is outside dimension 0 of shape {Shape}.");
        long row = Shape.RowSize;
        return new DeviceTensor<T>(View.SubView(start * row, count * row), Shape.WithDim0(count));
    }

    /// <summary>Row <paramref name="index"/> of dimension 0, with that dimension dropped.</summary>
    public DeviceTensor<T> Row(int index) => Slice(index, 1).Reshape(Shape.DropDim0().Dims.ToArray());

    /// <summary>Throws naming both shapes unless this tensor has <paramref name="expected"/>.</summary>
    public DeviceTensor<T> Expect(string what, Shape expected)
    {
        Shape.Check(what, Shape, expected);
        return this;
    }

    /// <summary>
    /// Copies host data in. Through the stream's <see cref="UploadStaging"/> when it has one (every
    /// <c>ComputeDevice</c> stream does): a staged upload does not make the host wait; a large one-time
    /// upload, or any upload without page-locked memory, waits. Either way <paramref name="source"/> may be
    /// reused at once.
    /// </summary>
    public void CopyFrom(AcceleratorStream stream, ReadOnlySpan<T> source)
    {
        if (source.Length != Length)
            throw new ShapeMismatchException($"Copy into {Shape}: expected {Length} elements, got {source.Length}.");
        if (UploadStaging.Of(stream) is { } staging) staging.Upload(source, View);
        else UploadStaging.CopyAndWait(stream, source, View);
    }

    /// <summary>Copies to the host and waits for the copy: a host synchronisation (counted), not for hot loops.</summary>
    public void CopyTo(AcceleratorStream stream, Span<T> destination)
    {
        if (destination.Length != Length)
            throw new ShapeMismatchException($"Copy from {Shape}: expected {Length} elements, got {destination.Length}.");
        View.CopyToCPU(stream, destination);
        DeviceCounters.Of(stream.Accelerator).CountDownload();
        DeviceCounters.Wait(stream);
    }

    public T[] ToArray(AcceleratorStream stream)
    {
        var result = new T[Length];
        CopyTo(stream, result);
        return result;
    }

    /// <summary>Zeroes the tensor on the stream (a device memset: counted as a launch).</summary>
    public void Clear(AcceleratorStream stream)
    {
        DeviceCounters.Of(stream.Accelerator).CountLaunches();
        View.MemSetToZero(stream);
    }

    /// <summary>The memory as a host span: only on ILGPU's CPU accelerator, whose buffers are host memory.</summary>
    public Span<T> HostSpan() => View.AsHostSpan();

    public void Dispose() => owner?.Dispose();

    public override string ToString() => $"DeviceTensor<{typeof(T).Name}>{Shape}";
}
