namespace IlgpuElmo.Tensors;

/// <summary>
/// Where tensors come from: a device's allocation, which reports running out of memory with the sizes and the
/// option to lower. The device (<c>ComputeDevice</c>) is one; what needs only allocation (a
/// <see cref="Workspace"/>, the GEMM precision check) takes this, not the whole device.
/// </summary>
public interface ITensorAllocator
{
    /// <summary>A new tensor of <paramref name="shape"/>; <paramref name="what"/> names it in an out-of-memory error.</summary>
    DeviceTensor<T> Allocate<T>(Shape shape, string what = "tensor") where T : unmanaged;
}
