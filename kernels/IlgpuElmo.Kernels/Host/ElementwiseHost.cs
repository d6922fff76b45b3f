using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="ElementwiseKernels"/>' fill, copy, axpby, column sums and dropout,
/// each named after the kernel it stands for: single span operations and vector loops over
/// <see cref="ElementwiseElement"/>'s maths. All are bit-equal to the kernels except the column sums, which
/// add each column's rows in order where a device adds a tree of row slices (HostParityTests states the bound).
/// </summary>
static class ElementwiseHost
{
    /// <summary><see cref="ElementwiseKernels.FillKernel"/>: one vectorised pass.</summary>
    public static void Fill(Span<float> x, float value) => x.Fill(value);

    /// <summary><see cref="ElementwiseKernels.CopyKernel"/>: one vectorised pass.</summary>
    public static void Copy(ReadOnlySpan<float> src, Span<float> dst) => src.CopyTo(dst);

    /// <summary><see cref="ElementwiseKernels.AxpbyKernel"/>: (a x) + (b y) rounded as <see cref="ElementwiseElement.Axpby"/> rounds it.</summary>
    public static void Axpby(float a, ReadOnlySpan<float> x, float b, Span<float> y)
    {
        if (b == 0f)
        {
            TensorPrimitives.Multiply(x, a, y);
            return;
        }
        TensorPrimitives.Multiply(y, b, y);
        TensorPrimitives.MultiplyAdd(x, a, y, y);
    }

    /// <summary>
    /// <see cref="ElementwiseKernels.ColumnSumsPartialKernel"/> and its finish in one: column blocks in parallel,
    /// each column's rows added in order (bit-reproducible).
    /// </summary>
    public static void ColumnSums(ArrayView<float> x, int rows, int columns, float beta, ArrayView<float> sums)
    {
        const int Block = 64;
        int blocks = (columns + Block - 1) / Block;
        KernelRuntime.HostRows(blocks, (long)rows * columns, block =>
        {
            int c0 = block * Block, width = Math.Min(Block, columns - c0);
            Span<float> total = stackalloc float[Block];
            total.Clear();
            for (int r = 0; r < rows; r++)
            {
                long row = (long)r * columns + c0;
                for (int j = 0; j < width; j++) total[j] += x[row + j];
            }
            for (int j = 0; j < width; j++) sums[c0 + j] = ElementwiseElement.ColumnSum(beta, sums[c0 + j], total[j]);
        });
    }

    /// <summary>
    /// <see cref="ElementwiseKernels.DropoutKernel"/> over elements [start, start + x.Length), in runs whose counters are
    /// contiguous (within one block of <see cref="DropoutParams.RowBlock"/> elements: a replica's rows of one time step).
    /// </summary>
    public static void Dropout(DropoutParams p, long start, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int done = 0; done < x.Length;)
        {
            long at = start + done;
            int run = (int)Math.Min(x.Length - done, p.RowBlock - at % p.RowBlock);
            DropoutRun(p, ElementwiseElement.DropoutCounter(p, at), x.Slice(done, run), y.Slice(done, run));
            done += run;
        }
    }

    /// <summary>
    /// Dropout with counters firstCounter + k, eight at a time: the hash in 64-bit vector lanes, and keep decided on
    /// its top 24 bits as an integer, u >= ceil(rate 2^24), which is the kernel's u 2^-24 >= rate exactly
    /// (u &lt; 2^24 converts to float exactly). x and y may be the same.
    /// </summary>
    static void DropoutRun(DropoutParams p, ulong firstCounter, ReadOnlySpan<float> x, Span<float> y)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var threshold = Vector256.Create((ulong)MathF.Ceiling(p.Rate * 16777216f));
            var scale = Vector256.Create(p.Scale);
            var lanes = Vector256.Create(1UL, 2, 3, 4);
            for (; k <= x.Length - 8; k += 8)
            {
                var counter = Vector256.Create(firstCounter + (ulong)k) + lanes;
                var keepLow = Vector256.GreaterThanOrEqual(HashTop24(p.Seed, counter), threshold);
                var keepHigh = Vector256.GreaterThanOrEqual(HashTop24(p.Seed, counter + Vector256.Create(4UL)), threshold);
                var keep = Vector256.Narrow(keepLow, keepHigh).AsSingle();
                Vector256.ConditionalSelect(keep, Vector256.Create(x[k..]) * scale, Vector256<float>.Zero).CopyTo(y[k..]);
            }
        }
        for (; k < x.Length; k++) y[k] = ElementwiseElement.Dropout(p, firstCounter + (ulong)k, x[k]);
    }

    /// <summary><see cref="CounterRandom.Hash"/>(seed, counter - 1) >> 8 in four 64-bit lanes (the counter already plus one).</summary>
    static Vector256<ulong> HashTop24(ulong seed, Vector256<ulong> counterPlusOne)
    {
        var z = Vector256.Create(seed) + Vector256.Create(0x9E3779B97F4A7C15UL) * counterPlusOne;
        z = (z ^ Vector256.ShiftRightLogical(z, 30)) * Vector256.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ Vector256.ShiftRightLogical(z, 27)) * Vector256.Create(0x94D049BB133111EBUL);
        z ^= Vector256.ShiftRightLogical(z, 31);
        return Vector256.ShiftRightLogical(z, 40);
    }
}
