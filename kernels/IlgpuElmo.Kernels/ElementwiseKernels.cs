using ILGPU;
using ILGPU.Runtime;
using System.Numerics.Tensors;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Small pointwise kernels every layer needs: fill, copy, axpy, scale, bias broadcast, column sums
/// (bias gradients), squared norm partials (global-norm clipping) and dropout with a counter-based RNG
/// (same mask on every device for the same seed and offset).
/// </summary>
public sealed class ElementwiseKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, float> fill;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> copy;
    readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, float, ArrayView<float>> axpby;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> addRowBias;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, float, ArrayView<float>> columnSums;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> squaredNormPartials;
    readonly Action<AcceleratorStream, Index1D, DropoutParams, ArrayView<float>, ArrayView<float>> dropout;

    public ElementwiseKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        fill = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float>(FillKernel);
        copy = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>>(CopyKernel);
        axpby = acc.LoadAutoGroupedKernel<Index1D, float, ArrayView<float>, float, ArrayView<float>>(AxpbyKernel);
        addRowBias = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(AddRowBiasKernel);
        columnSums = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, float, ArrayView<float>>(ColumnSumsKernel);
        squaredNormPartials = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(SquaredNormPartialsKernel);
        dropout = acc.LoadAutoGroupedKernel<Index1D, DropoutParams, ArrayView<float>, ArrayView<float>>(DropoutKernel);
    }

    /// <summary>x[i] = value.</summary>
    public void Fill(AcceleratorStream s, ArrayView<float> x, float value)
    {
        // On the host the memory-bound helpers (fill, copy, axpby) are single span operations: one vectorised
        // pass, no per-element call, no thread hand-off.
        if (runtime.RunOnHost) x.AsHostSpan().Fill(value);
        else runtime.For(s, x.Length, (st, i) => fill(st, i, x, value), i => FillKernel(i, x, value));
    }

    /// <summary>dst[i] = src[i]; views of equal length.</summary>
    public void Copy(AcceleratorStream s, ArrayView<float> src, ArrayView<float> dst)
    {
        Check(src.Length == dst.Length, $"Copy: source has {src.Length} elements, destination {dst.Length}.");
        if (runtime.RunOnHost) src.AsHostSpan().CopyTo(dst.AsHostSpan());
        else runtime.For(s, src.Length, (st, i) => copy(st, i, src, dst), i => CopyKernel(i, src, dst));
    }

    /// <summary>y[i] = a * x[i] + b * y[i] (with b = 0, y is not read).</summary>
    public void Axpby(AcceleratorStream s, float a, ArrayView<float> x, float b, ArrayView<float> y)
    {
        Check(x.Length == y.Length, $"Axpby: x has {x.Length} elements, y {y.Length}.");
        if (runtime.RunOnHost) AxpbyHost(a, x.AsHostSpan(), b, y.AsHostSpan());
        else runtime.For(s, x.Length, (st, i) => axpby(st, i, a, x, b, y), i => AxpbyKernel(i, a, x, b, y));
    }

    /// <summary>x[r, c] += bias[c] for x [rows, columns], bias [columns].</summary>
    public void AddRowBias(AcceleratorStream s, ArrayView<float> x, ArrayView<float> bias)
    {
        int columns = (int)bias.Length;
        Check(columns > 0 && x.Length % columns == 0, $"AddRowBias: {x.Length} elements are not rows of {columns}.");
        runtime.For(s, x.Length, (st, i) => addRowBias(st, i, x, columns, bias), i => AddRowBiasKernel(i, x, columns, bias));
    }

    /// <summary>sums[c] = beta * sums[c] + sum over rows of x[r, c], for x [rows, columns] (bias gradients).</summary>
    public void ColumnSums(AcceleratorStream s, ArrayView<float> x, int rows, ArrayView<float> sums, float beta = 0f)
    {
        int columns = (int)sums.Length;
        Check(x.Length == (long)rows * columns, $"ColumnSums: x has {x.Length} elements, expected [{rows}, {columns}].");
        runtime.For(s, columns, (st, i) => columnSums(st, i, x, rows, columns, beta, sums),
            i => ColumnSumsKernel(i, x, rows, columns, beta, sums));
    }

    /// <summary>partials[p] = sum of x[i]^2 over chunk p of <paramref name="chunk"/> elements (add them on the host).</summary>
    public void SquaredNormPartials(AcceleratorStream s, ArrayView<float> x, int chunk, ArrayView<float> partials)
    {
        Check(partials.Length == (x.Length + chunk - 1) / chunk, $"SquaredNormPartials: need {(x.Length + chunk - 1) / chunk} partials, got {partials.Length}.");
        runtime.For(s, partials.Length, (st, i) => squaredNormPartials(st, i, x, chunk, partials),
            i => SquaredNormPartialsKernel(i, x, chunk, partials));
    }

    /// <summary>
    /// Inverted dropout: y = x * mask / (1 - p), mask[i] = 1 with probability 1 - p from a hash of
    /// (seed, offset + i). Backward is the same call on the gradient with the same seed and offset.
    /// </summary>
    public void Dropout(AcceleratorStream s, DropoutParams p, ArrayView<float> x, ArrayView<float> y)
    {
        Check(x.Length == y.Length, $"Dropout: x has {x.Length} elements, y {y.Length}.");
        runtime.For(s, x.Length, (st, i) => dropout(st, i, p, x, y), i => DropoutKernel(i, p, x, y));
    }

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    public static void FillKernel(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    public static void CopyKernel(Index1D i, ArrayView<float> src, ArrayView<float> dst) => dst[i] = src[i];

    public static void AxpbyKernel(Index1D i, float a, ArrayView<float> x, float b, ArrayView<float> y) =>
        y[i] = b == 0f ? a * x[i] : a * x[i] + b * y[i];

    /// <summary>The host's <see cref="AxpbyKernel"/>: (a x) + (b y) rounded as the kernel rounds it.</summary>
    static void AxpbyHost(float a, ReadOnlySpan<float> x, float b, Span<float> y)
    {
        if (b == 0f)
        {
            TensorPrimitives.Multiply(x, a, y);
            return;
        }
        TensorPrimitives.Multiply(y, b, y);
        TensorPrimitives.MultiplyAdd(x, a, y, y);
    }

    public static void AddRowBiasKernel(Index1D i, ArrayView<float> x, int columns, ArrayView<float> bias) =>
        x[i] += bias[i % columns];

    /// <summary>One thread per column, rows in a fixed order: deterministic on every device.</summary>
    public static void ColumnSumsKernel(Index1D c, ArrayView<float> x, int rows, int columns, float beta, ArrayView<float> sums)
    {
        float total = 0f;
        for (int r = 0; r < rows; r++) total += x[(long)r * columns + c];
        sums[c] = beta == 0f ? total : beta * sums[c] + total;
    }

    public static void SquaredNormPartialsKernel(Index1D p, ArrayView<float> x, int chunk, ArrayView<float> partials)
    {
        long start = (long)(int)p * chunk, end = Math.Min(start + chunk, x.Length);
        float total = 0f;
        for (long i = start; i < end; i++) total += x[i] * x[i];
        partials[p] = total;
    }

    public static void DropoutKernel(Index1D i, DropoutParams p, ArrayView<float> x, ArrayView<float> y)
    {
        uint bits = CounterRandom.Hash(p.Seed, (ulong)(p.Offset + (int)i));
        bool keep = (bits >> 8) * (1f / 16777216f) >= p.Rate;
        y[i] = keep ? x[i] * p.Scale : 0f;
    }
}

/// <summary>Dropout rate, 1/(1-rate), seed and the element offset of this call in the step's random stream.</summary>
public readonly record struct DropoutParams(float Rate, float Scale, ulong Seed, long Offset)
{
    public static DropoutParams Create(float rate, ulong seed, long offset) => new(rate, 1f / (1f - rate), seed, offset);
}

/// <summary>A counter-based hash RNG (SplitMix64 finaliser): the same bits on every device for (seed, counter).</summary>
public static class CounterRandom
{
    public static uint Hash(ulong seed, ulong counter)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (counter + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (uint)(z >> 32);
    }

    /// <summary>Uniform in [0, 1) with 24 bits.</summary>
    public static float Uniform(ulong seed, ulong counter) => (Hash(seed, counter) >> 8) * (1f / 16777216f);
}
