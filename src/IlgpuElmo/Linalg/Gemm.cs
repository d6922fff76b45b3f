using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Linalg;

/// <summary>
/// The one matrix multiply everything uses: C = alpha * op(A) * op(B) + beta * C, row-major, with
/// transposes and strided batches. Checks shapes and bounds on the host, then hands the work to the
/// device's backend (cuBLAS, our tiled or coarse kernel, or the host SIMD GEMM).
/// </summary>
public sealed class Gemm(IGemmBackend backend) : IDisposable
{
    public IGemmBackend Backend { get; } = backend;

    /// <summary>
    /// Tensor form. A is [M,K] ([K,M] when transA), B is [K,N] ([N,K] when transB), C is [M,N];
    /// or all three rank 3 with a leading batch dimension, for a strided batch.
    /// </summary>
    public void Multiply(AcceleratorStream stream, DeviceTensor<float> a, bool transA, DeviceTensor<float> b, bool transB,
        DeviceTensor<float> c, float alpha = 1f, float beta = 0f)
    {
        int rank = c.Shape.Rank;
        if (rank is not (2 or 3) || a.Shape.Rank != rank || b.Shape.Rank != rank)
            throw new ShapeMismatchException($"GEMM needs A, B and C all of rank 2 or all of rank 3; got A {a.Shape}, B {b.Shape}, C {c.Shape}.");
        int batch = rank == 3 ? c.Shape[0] : 1;
        if (rank == 3 && (a.Shape[0] != batch || b.Shape[0] != batch))
            throw new ShapeMismatchException($"GEMM batch sizes differ: A {a.Shape}, B {b.Shape}, C {c.Shape}.");
        int ar = a.Shape[-2], ac = a.Shape[-1], br = b.Shape[-2], bc = b.Shape[-1];
        int m = transA ? ac : ar, k = transA ? ar : ac;
        int kb = transB ? bc : br, n = transB ? br : bc;
        if (k != kb || c.Shape[-2] != m || c.Shape[-1] != n)
            throw new ShapeMismatchException(
                $"GEMM shapes do not agree: op(A) is [{m}, {k}] (A {a.Shape}{(transA ? " transposed" : "")}), " +
                $"op(B) is [{kb}, {n}] (B {b.Shape}{(transB ? " transposed" : "")}), C is {c.Shape}; need C [{m}, {n}] and equal inner sizes.");
        var p = new GemmParams(m, n, k, alpha, beta, transA ? 1 : 0, transB ? 1 : 0, ac, bc, n,
            (long)ar * ac, (long)br * bc, (long)m * n, batch);
        Run(stream, p, a.View, b.View, c.View);
    }

    /// <summary>
    /// op(B) of <paramref name="b"/> (rank 2) prepared for many multiplies that read it: packed into the
    /// workspace buffer <paramref name="name"/> where the backend packs B (the host GEMM), else B itself.
    /// The packed copy is a snapshot: pack again after B changes.
    /// </summary>
    public PackedMatrix Pack(AcceleratorStream stream, DeviceTensor<float> b, bool transB, Workspace workspace, string name)
    {
        if (ReservePack(b, transB, workspace, name) is not { } packed) return new PackedMatrix(b, transB, null);
        var (k, n) = OpShape(b, transB);
        Backend.PackB(stream, k, n, transB, b.Shape[1], b.View, packed.View);
        return new PackedMatrix(b, transB, packed);
    }

    /// <summary>
    /// The workspace buffer <see cref="Pack"/> fills for <paramref name="b"/>, allocated without packing (so that the
    /// first step that packs allocates nothing); null where the backend reads B where it lies.
    /// </summary>
    public DeviceTensor<float>? ReservePack(DeviceTensor<float> b, bool transB, Workspace workspace, string name)
    {
        if (b.Shape.Rank != 2) throw new ShapeMismatchException($"GEMM packing needs a matrix (rank 2); got B {b.Shape}.");
        var (k, n) = OpShape(b, transB);
        long floats = Backend.PackedBLength(k, n);
        if (floats == 0) return null;
        if (floats > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(b), floats, $"The packed copy of {b.Shape} exceeds 2^31-1 floats.");
        return workspace.Get<float>(name, (int)floats);
    }

    /// <summary>op(B)'s [K, N] for a matrix B.</summary>
    static (int K, int N) OpShape(DeviceTensor<float> b, bool transB) => transB ? (b.Shape[1], b.Shape[0]) : (b.Shape[0], b.Shape[1]);

    /// <summary>As <see cref="Multiply(AcceleratorStream, DeviceTensor{float}, bool, DeviceTensor{float}, bool, DeviceTensor{float}, float, float)"/> with a B from <see cref="Pack"/> (rank 2 only).</summary>
    public void Multiply(AcceleratorStream stream, DeviceTensor<float> a, bool transA, PackedMatrix b, DeviceTensor<float> c,
        float alpha = 1f, float beta = 0f)
    {
        if (b.Packed is null)
        {
            Multiply(stream, a, transA, b.Source, b.Transposed, c, alpha, beta);
            return;
        }
        if (a.Shape.Rank != 2 || c.Shape.Rank != 2)
            throw new ShapeMismatchException($"GEMM with a packed B needs A and C of rank 2; got A {a.Shape}, C {c.Shape}.");
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        if (k != b.K || c.Shape[0] != m || c.Shape[1] != b.N)
            throw new ShapeMismatchException(
                $"GEMM shapes do not agree: op(A) is [{m}, {k}] (A {a.Shape}{(transA ? " transposed" : "")}), packed op(B) is [{b.K}, {b.N}], C is {c.Shape}.");
        if (m == 0 || b.N == 0) return;
        var p = new GemmParams(m, b.N, k, alpha, beta, transA ? 1 : 0, 0, a.Shape[1], b.N, b.N, a.Shape.Size, 0, c.Shape.Size, 1);
        CheckOperand("A", transA ? k : m, transA ? m : k, p.Lda, p.StrideA, 1, a.View.Length, k == 0);
        CheckOperand("C", m, b.N, p.Ldc, p.StrideC, 1, c.View.Length, false);
        Backend.RunPackedB(stream, p, a.View, b.Packed.View, c.View);
    }

    /// <summary>Raw form over views with leading dimensions and batch strides; bounds are checked here.</summary>
    public void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (p.M < 0 || p.N < 0 || p.K < 0 || p.BatchCount < 0)
            throw new ArgumentException($"GEMM sizes must be non-negative: M={p.M} N={p.N} K={p.K} batch={p.BatchCount}.");
        if (p.M == 0 || p.N == 0 || p.BatchCount == 0) return;
        CheckOperand("A", p.TransA != 0 ? p.K : p.M, p.TransA != 0 ? p.M : p.K, p.Lda, p.StrideA, p.BatchCount, a.Length, p.K == 0);
        CheckOperand("B", p.TransB != 0 ? p.N : p.K, p.TransB != 0 ? p.K : p.N, p.Ldb, p.StrideB, p.BatchCount, b.Length, p.K == 0);
        CheckOperand("C", p.M, p.N, p.Ldc, p.StrideC, p.BatchCount, c.Length, false);
        Backend.Run(stream, p, a, b, c);
    }

    static void CheckOperand(string name, int rows, int cols, int ld, long stride, int batch, long length, bool empty)
    {
        if (empty) return;
        if (ld < cols)
            throw new ArgumentException($"GEMM operand {name}: leading dimension {ld} is smaller than its {cols} columns.");
        long needed = (batch - 1) * stride + (long)(rows - 1) * ld + cols;
        if (needed > length)
            throw new ArgumentException($"GEMM operand {name} [{rows}, {cols}] (ld {ld}, batch {batch}, stride {stride}) needs {needed} elements; its view has {length}.");
    }

    public void Dispose() => Backend.Dispose();
}

/// <summary>
/// op(B) [K, N] for <see cref="Gemm.Multiply(AcceleratorStream, DeviceTensor{float}, bool, PackedMatrix, DeviceTensor{float}, float, float)"/>:
/// the matrix it came from, and its packed copy where the backend packs (null: the backend reads <see cref="Source"/>).
/// </summary>
public sealed record PackedMatrix(DeviceTensor<float> Source, bool Transposed, DeviceTensor<float>? Packed)
{
    public int K => Transposed ? Source.Shape[1] : Source.Shape[0];
    public int N => Transposed ? Source.Shape[0] : Source.Shape[1];
}
