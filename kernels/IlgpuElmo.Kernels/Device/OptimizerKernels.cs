using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>Hyper-parameters of one update (the clip scale is not here: the kernels read it from the device).</summary>
public readonly record struct OptimizerStep(float LearningRate, float Beta1, float Beta2, float Epsilon,
    float BiasCorrection1, float BiasCorrection2);

/// <summary>
/// Fused optimizer updates: apply the scaled gradient to the weight, update the optimizer's
/// accumulators, and zero the gradient for the next step, in one pass. The gradient is first multiplied by
/// gradScale[0], a one-element device view (the global-norm clip scale <see cref="ReductionKernels.FinishNorm"/>
/// wrote), so clipping needs no host read. Dense variants run over every
/// element; row variants only over the rows a step touched (embedding and softmax tables), so a step
/// costs what it touched, not the vocabulary size. Host execution runs <see cref="OptimizerHost"/>' vectorised
/// versions over chunks of a dense parameter and over touched rows; both apply <see cref="OptimizerElement"/>.
/// </summary>
public sealed class OptimizerKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, OptimizerStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> adagrad;
    readonly Action<AcceleratorStream, Index1D, OptimizerStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> adam;
    readonly Action<AcceleratorStream, Index1D, OptimizerStep, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> adagradRows;
    readonly Action<AcceleratorStream, Index1D, OptimizerStep, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> adamRows;

    public OptimizerKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        adagrad = acc.LoadAutoGroupedKernel<Index1D, OptimizerStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AdagradKernel);
        adam = acc.LoadAutoGroupedKernel<Index1D, OptimizerStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AdamKernel);
        adagradRows = acc.LoadAutoGroupedKernel<Index1D, OptimizerStep, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AdagradRowsKernel);
        adamRows = acc.LoadAutoGroupedKernel<Index1D, OptimizerStep, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AdamRowsKernel);
    }

    /// <summary>Adagrad (TensorFlow's): acc += g^2; w -= lr * g / sqrt(acc); g = 0. All views the same length.</summary>
    public void Adagrad(AcceleratorStream s, in OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> accumulator, ArrayView<float> gradScale)
    {
        var q = p;
        runtime.ForRows(s, weight.Length, (st, i) => adagrad(st, i, q, weight, grad, accumulator, gradScale), HostChunks(weight.Length), c =>
        {
            var (start, length) = HostChunk(c, weight.Length);
            OptimizerHost.Adagrad(q, Part(weight, start, length), Part(grad, start, length), Part(accumulator, start, length), gradScale.AsHostSpan()[0]);
        });
    }

    /// <summary>Adam: m, v moments with bias corrections passed in <paramref name="p"/>; g = 0 afterwards.</summary>
    public void Adam(AcceleratorStream s, in OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, ArrayView<float> gradScale)
    {
        var q = p;
        runtime.ForRows(s, weight.Length, (st, i) => adam(st, i, q, weight, grad, m, v, gradScale), HostChunks(weight.Length), c =>
        {
            var (start, length) = HostChunk(c, weight.Length);
            OptimizerHost.Adam(q, Part(weight, start, length), Part(grad, start, length), Part(m, start, length), Part(v, start, length),
                gradScale.AsHostSpan()[0]);
        });
    }

    /// <summary>Adagrad on the listed rows only (rows.Count unique row ids, each of rows.Width elements).</summary>
    public void AdagradRows(AcceleratorStream s, in OptimizerStep p, RowSet rows, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> accumulator,
        ArrayView<float> gradScale)
    {
        var q = p;
        int width = rows.Width;
        var ids = rows.Ids;
        runtime.ForRows(s, (long)rows.Count * width, (st, i) => adagradRows(st, i, q, ids, width, weight, grad, accumulator, gradScale), rows.Count, u =>
        {
            long start = (long)ids[u] * width;
            OptimizerHost.Adagrad(q, Part(weight, start, width), Part(grad, start, width), Part(accumulator, start, width), gradScale.AsHostSpan()[0]);
        });
    }

    /// <summary>Lazy Adam on the listed rows only.</summary>
    public void AdamRows(AcceleratorStream s, in OptimizerStep p, RowSet rows, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v,
        ArrayView<float> gradScale)
    {
        var q = p;
        int width = rows.Width;
        var ids = rows.Ids;
        runtime.ForRows(s, (long)rows.Count * width, (st, i) => adamRows(st, i, q, ids, width, weight, grad, m, v, gradScale), rows.Count, u =>
        {
            long start = (long)ids[u] * width;
            OptimizerHost.Adam(q, Part(weight, start, width), Part(grad, start, width), Part(m, start, width), Part(v, start, width),
                gradScale.AsHostSpan()[0]);
        });
    }

    /// <summary>Host execution updates a dense parameter in chunks of this many elements (a worker's unit of work).</summary>
    const int HostChunkLength = 4096;

    static int HostChunks(long n) => (int)((n + HostChunkLength - 1) / HostChunkLength);

    static (long Start, int Length) HostChunk(int chunk, long n)
    {
        long start = (long)chunk * HostChunkLength;
        return (start, (int)Math.Min(HostChunkLength, n - start));
    }

    static Span<float> Part(ArrayView<float> view, long start, int length) => view.SubView(start, length).AsHostSpan();

    public static void AdagradKernel(Index1D i, OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> accumulator, ArrayView<float> gradScale) =>
        AdagradAt(i, p, weight, grad, accumulator, gradScale[0]);

    public static void AdamKernel(Index1D i, OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, ArrayView<float> gradScale) =>
        AdamAt(i, p, weight, grad, m, v, gradScale[0]);

    public static void AdagradRowsKernel(Index1D i, OptimizerStep p, ArrayView<int> ids, int width, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> accumulator,
        ArrayView<float> gradScale) =>
        AdagradAt(RowSet.ElementOf(ids, width, i), p, weight, grad, accumulator, gradScale[0]);

    public static void AdamRowsKernel(Index1D i, OptimizerStep p, ArrayView<int> ids, int width, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v,
        ArrayView<float> gradScale) =>
        AdamAt(RowSet.ElementOf(ids, width, i), p, weight, grad, m, v, gradScale[0]);

    /// <summary>One element's Adagrad update at table index <paramref name="at"/> (dense and row kernels share it).</summary>
    static void AdagradAt(long at, in OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> accumulator, float gradScale)
    {
        var u = OptimizerElement.Adagrad(p, weight[at], grad[at], gradScale, accumulator[at]);
        accumulator[at] = u.Accumulator;
        weight[at] = u.Weight;
        grad[at] = 0f;
    }

    /// <summary>One element's Adam update at table index <paramref name="at"/>.</summary>
    static void AdamAt(long at, in OptimizerStep p, ArrayView<float> weight, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, float gradScale)
    {
        var u = OptimizerElement.Adam(p, weight[at], grad[at], gradScale, m[at], v[at]);
        m[at] = u.M;
        v[at] = u.V;
        weight[at] = u.Weight;
        grad[at] = 0f;
    }
}

/// <summary>The unique rows a step touched: Ids[0..Count) of a table whose rows have Width elements (host-side descriptor; kernels take its parts).</summary>
public readonly struct RowSet(ArrayView<int> ids, int count, int width)
{
    public readonly ArrayView<int> Ids = ids;
    public readonly int Count = count;
    public readonly int Width = width;

    /// <summary>Element index in the table of flat index i over (touched row, column).</summary>
    public static long ElementOf(ArrayView<int> ids, int width, int i)
    {
        int r = i / width;
        return (long)ids[r] * width + (i - r * width);
    }
}
