using System.Numerics;
using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Linalg;

/// <summary>
/// A blocked SIMD GEMM on the host, for ILGPU's CPU accelerator in host execution (its buffers are host
/// memory). Transposed operands are first packed row-major; then a 4 x (2 SIMD vectors) register tile
/// accumulates over all of K, tiles spread over the cores column-strip by column-strip so a strip of B
/// stays in cache while the row blocks pass over it.
/// </summary>
public sealed class HostGemm : IGemmBackend
{
    const int Rows = 4;
    static readonly int Width = 2 * Vector<float>.Count;
    // Per thread, so two streams' host work never shares a packing buffer.
    [ThreadStatic] static float[]? packA, packB;

    public string Name => "host-simd";

    public unsafe void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (p.M == 0 || p.N == 0) return;
        DeviceCounters.Of(stream.Accelerator).CountLaunches();
        var aSpan = a.AsHostSpan();
        var bSpan = b.AsHostSpan();
        var cSpan = c.AsHostSpan();
        for (int batch = 0; batch < p.BatchCount; batch++)
        {
            var aBatch = aSpan[(int)(batch * p.StrideA)..];
            var bBatch = bSpan[(int)(batch * p.StrideB)..];
            var cBatch = cSpan[(int)(batch * p.StrideC)..];
            int lda = p.Lda, ldb = p.Ldb;
            if (p.TransA != 0) { PackTransposed(aBatch, p.K, p.M, lda, ref packA); aBatch = packA!; lda = p.K; }
            if (p.TransB != 0) { PackTransposed(bBatch, p.N, p.K, ldb, ref packB); bBatch = packB!; ldb = p.N; }
            fixed (float* pa = aBatch, pb = bBatch, pc = cBatch)
                Multiply(p, (nint)pa, lda, (nint)pb, ldb, (nint)pc);
        }
    }

    /// <summary>Writes the transpose of the [rows, cols] matrix <paramref name="src"/> (leading dim ld) as [cols, rows].</summary>
    static void PackTransposed(ReadOnlySpan<float> src, int rows, int cols, int ld, ref float[]? buffer)
    {
        if (buffer is null || buffer.Length < rows * cols) buffer = new float[rows * cols];
        var dst = buffer.AsSpan();
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
                dst[q * rows + r] = src[r * ld + q];
    }

    static unsafe void Multiply(GemmParams p, nint aPtr, int lda, nint bPtr, int ldb, nint cPtr)
    {
        int rowBlocks = (p.M + Rows - 1) / Rows, strips = (p.N + Width - 1) / Width;
        long tiles = (long)rowBlocks * strips;
        int workers = (int)Math.Min(Environment.ProcessorCount, Math.Max(1, (long)p.M * p.N * p.K / 65536));
        void Work(long first, long last)
        {
            for (long t = first; t < last; t++)
            {
                int strip = (int)(t / rowBlocks), block = (int)(t % rowBlocks);
                Tile((float*)aPtr, lda, (float*)bPtr, ldb, (float*)cPtr, p, block * Rows, strip * Width);
            }
        }
        if (workers <= 1) Work(0, tiles);
        else Parallel.For(0, workers, w => Work(tiles * w / workers, tiles * (w + 1) / workers));
    }

    static unsafe void Tile(float* a, int lda, float* b, int ldb, float* c, in GemmParams p, int i0, int j0)
    {
        int rows = Math.Min(Rows, p.M - i0), cols = Math.Min(Width, p.N - j0);
        if (rows < Rows || cols < Width)
        {
            EdgeTile(a, lda, b, ldb, c, p, i0, j0, rows, cols);
            return;
        }
        int vc = Vector<float>.Count;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a + (long)i0 * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        float* bk = b + j0;
        for (int k = 0; k < p.K; k++, bk += ldb)
        {
            var b0 = Vector.Load(bk);
            var b1 = Vector.Load(bk + vc);
            var x = new Vector<float>(a0[k]);
            c00 = Vector.FusedMultiplyAdd(x, b0, c00); c01 = Vector.FusedMultiplyAdd(x, b1, c01);
            x = new Vector<float>(a1[k]);
            c10 = Vector.FusedMultiplyAdd(x, b0, c10); c11 = Vector.FusedMultiplyAdd(x, b1, c11);
            x = new Vector<float>(a2[k]);
            c20 = Vector.FusedMultiplyAdd(x, b0, c20); c21 = Vector.FusedMultiplyAdd(x, b1, c21);
            x = new Vector<float>(a3[k]);
            c30 = Vector.FusedMultiplyAdd(x, b0, c30); c31 = Vector.FusedMultiplyAdd(x, b1, c31);
        }
        StoreRow(c + (long)i0 * p.Ldc + j0, c00, c01, p.Alpha, p.Beta);
        StoreRow(c + (long)(i0 + 1) * p.Ldc + j0, c10, c11, p.Alpha, p.Beta);
        StoreRow(c + (long)(i0 + 2) * p.Ldc + j0, c20, c21, p.Alpha, p.Beta);
        StoreRow(c + (long)(i0 + 3) * p.Ldc + j0, c30, c31, p.Alpha, p.Beta);
    }

    static unsafe void StoreRow(float* dst, Vector<float> v0, Vector<float> v1, float alpha, float beta)
    {
        int vc = Vector<float>.Count;
        v0 *= alpha;
        v1 *= alpha;
        if (beta != 0f)
        {
            v0 += Vector.Load(dst) * beta;
            v1 += Vector.Load(dst + vc) * beta;
        }
        v0.Store(dst);
        v1.Store(dst + vc);
    }

    static unsafe void EdgeTile(float* a, int lda, float* b, int ldb, float* c, in GemmParams p, int i0, int j0, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + (long)(i0 + r) * lda;
            float* cr = c + (long)(i0 + r) * p.Ldc + j0;
            for (int q = 0; q < cols; q++)
            {
                float sum = 0f;
                float* bj = b + j0 + q;
                for (int k = 0; k < p.K; k++) sum += ar[k] * bj[(long)k * ldb];
                cr[q] = p.Beta != 0f ? p.Alpha * sum + p.Beta * cr[q] : p.Alpha * sum;
            }
        }
    }

    public void Dispose() { }
}
