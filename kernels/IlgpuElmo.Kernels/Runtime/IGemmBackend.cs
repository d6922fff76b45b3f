using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// One implementation of the row-major strided-batched GEMM described by <see cref="GemmParams"/>.
/// Callers go through <see cref="Gemm"/>, which validates shapes and bounds first.
/// </summary>
public interface IGemmBackend : IDisposable
{
    /// <summary>Short name for logs and benchmarks: "cublas", "tiled-kernel", "coarse-kernel", "host-packed-avx512".</summary>
    string Name { get; }

    /// <summary>Enqueues C = alpha op(A) op(B) + beta C on <paramref name="stream"/>; with beta = 0, C is not read.</summary>
    void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c);
}
