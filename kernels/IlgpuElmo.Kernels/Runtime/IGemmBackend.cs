using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// One implementation of the row-major strided-batched GEMM described by <see cref="GemmParams"/>.
/// Callers go through the library's `IlgpuElmo.Linalg.Gemm`, which validates shapes and bounds first.
/// </summary>
public interface IGemmBackend : IDisposable
{
    /// <summary>Short name for logs and benchmarks: "cublas", "tiled-kernel", "coarse-kernel", "host-packed-avx512".</summary>
    string Name { get; }

    /// <summary>Enqueues C = alpha op(A) op(B) + beta C on <paramref name="stream"/>; with beta = 0, C is not read.</summary>
    void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c);

    /// <summary>
    /// Floats a packed copy of op(B) [k, n] takes (<see cref="PackB"/>), for a B that many GEMMs read; 0: this
    /// backend reads B where it lies, and callers multiply with B itself.
    /// </summary>
    long PackedBLength(int k, int n) => 0;

    /// <summary>Writes the packed copy of op(B) [k, n] (B [k, n] with leading dimension ldb, or [n, k] when transB) into <paramref name="packed"/>.</summary>
    void PackB(AcceleratorStream stream, int k, int n, bool transB, int ldb, ArrayView<float> b, ArrayView<float> packed) =>
        throw new NotSupportedException($"The {Name} GEMM reads B where it lies; it packs nothing.");

    /// <summary>As <see cref="Run"/> with op(B) [p.K, p.N] read from a <see cref="PackB"/> copy (one batch entry; p's TransB, Ldb, StrideB unused).</summary>
    void RunPackedB(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> packedB, ArrayView<float> c) =>
        throw new NotSupportedException($"The {Name} GEMM reads B where it lies; it packs nothing.");
}
