using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// ELMo's scalar mix of L layers h_l [T, B, D] (time-major):
///   out = gamma * sum_l w_l * y_l,   w = softmax(s),
/// with y_l = h_l, or with layer norm y_l = (h_l - mean_l) / sqrt(var_l + 1e-12), where mean_l and
/// var_l run over every element of h_l at unmasked positions (position (t, b) counts when t &lt; lengths[b])
/// but the normalisation applies to all positions: allennlp's and bilm-tf's semantics.
/// </summary>
/// <remarks>
/// Every reduction is two-level and in a fixed order (one thread per column over positions, then one
/// thread per layer over columns), so results are the same on every run and device. Backward with
/// G = dL/dout, S = sum over all elements of G, a_l = sum of G * y_l, M = unmasked elements of a layer:
///   dL/dgamma = sum_l w_l a_l,   dL/ds_l = w_l (gamma a_l - sum_i w_i gamma a_i),
///   dL/dh_l = gamma w_l G                                                   (no layer norm),
///   dL/dh_l = gamma w_l / sigma_l * (G - m (S + y_l a_l) / M)                (layer norm, m the 0/1 mask).
/// The second follows because mean and variance depend only on unmasked elements while every
/// element's output depends on them.
/// </remarks>
public sealed class ScalarMixKernels
{
    /// <summary>Added to the variance before the square root, as allennlp and bilm-tf do.</summary>
    public const float LayerNormEpsilon = 1e-12f;

    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int> columnMoments;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, int> finishMoments;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> coefficients;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> mix;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardColumnSums;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>> backwardTotals;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> parameterGradients;
    readonly Action<AcceleratorStream, Index1D, ScalarMixParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> inputGradient;

    public ScalarMixKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        columnMoments = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(ColumnMomentsKernel);
        finishMoments = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(FinishMomentsKernel);
        coefficients = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CoefficientsKernel);
        mix = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MixKernel);
        backwardColumnSums = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BackwardColumnSumsKernel);
        backwardTotals = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>>(BackwardTotalsKernel);
        parameterGradients = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ParameterGradientsKernel);
        inputGradient = acc.LoadAutoGroupedKernel<Index1D, ScalarMixParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(InputGradientKernel);
    }

    /// <summary>
    /// Forward. Fills <paramref name="stats"/> and <paramref name="coefs"/> (kept for backward) and writes <paramref name="output"/>.
    /// </summary>
    /// <param name="layers">[L, T, B, D] the layers to mix.</param>
    /// <param name="lengths">[B] tokens per batch row (read only when p.HasMask != 0; any 1-element view otherwise).</param>
    /// <param name="scalars">[L] the mixing parameters s (softmax applied here).</param>
    /// <param name="gamma">[1] the scale.</param>
    /// <param name="partials">[L, D] scratch for column sums.</param>
    /// <param name="stats">[2L + 1] out: mean_l, then 1/sqrt(var_l + eps), then 1/M (mean 0, 1, 1 without layer norm).</param>
    /// <param name="coefs">[2L] out: w_l = softmax(s)_l, then gamma * w_l / sigma_l.</param>
    /// <param name="output">[T, B, D] out.</param>
    public void Forward(AcceleratorStream s, ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> scalars,
        ArrayView<float> gamma, ArrayView<float> partials, ArrayView<float> stats, ArrayView<float> coefs, ArrayView<float> output)
    {
        Check(p, layers, lengths, partials, stats, coefs);
        Require(scalars.Length == p.Layers && gamma.Length == 1, $"ScalarMix: scalars have {scalars.Length} elements and gamma {gamma.Length}; expected {p.Layers} and 1.");
        Require(output.Length == p.Elements, $"ScalarMix: output has {output.Length} elements, expected [{p.Steps}, {p.Batch}, {p.Dim}].");
        if (p.LayerNorm != 0)
        {
            for (int moment = 0; moment < 2; moment++)
            {
                int m = moment;
                runtime.For(s, (long)p.Layers * p.Dim, (st, i) => columnMoments(st, i, p, layers, lengths, stats, partials, m),
                    i => ColumnMomentsKernel(i, p, layers, lengths, stats, partials, m));
                runtime.For(s, p.Layers, (st, i) => finishMoments(st, i, p, lengths, partials, stats, m),
                    i => FinishMomentsKernel(i, p, lengths, partials, stats, m));
            }
        }
        runtime.For(s, p.Layers, (st, i) => coefficients(st, i, p, scalars, gamma, stats, coefs), i => CoefficientsKernel(i, p, scalars, gamma, stats, coefs));
        runtime.For(s, p.Elements, (st, i) => mix(st, i, p, layers, stats, coefs, output), i => MixKernel(i, p, layers, stats, coefs, output));
    }

    /// <summary>
    /// Backward, after the Forward that filled <paramref name="stats"/> and <paramref name="coefs"/> from the same layers.
    /// Adds to <paramref name="scalarsGrad"/> [L] and <paramref name="gammaGrad"/> [1]; writes <paramref name="layersGrad"/>
    /// [L, T, B, D] (adds to it when p.Accumulate != 0).
    /// </summary>
    /// <param name="gradOutput">[T, B, D] dL/dout.</param>
    /// <param name="partials">[L + 1, D] scratch.</param>
    /// <param name="totals">[L + 1] scratch: a_l, then S.</param>
    public void Backward(AcceleratorStream s, ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> gamma,
        ArrayView<float> stats, ArrayView<float> coefs, ArrayView<float> gradOutput, ArrayView<float> partials, ArrayView<float> totals,
        ArrayView<float> scalarsGrad, ArrayView<float> gammaGrad, ArrayView<float> layersGrad)
    {
        Require(layersGrad.Length == layers.Length, "ScalarMix backward: the layers' gradient shape differs from the layers'.");
        ParameterBackward(s, p, layers, lengths, gamma, stats, coefs, gradOutput, partials, totals, scalarsGrad, gammaGrad);
        runtime.For(s, layers.Length, (st, i) => inputGradient(st, i, p, layers, lengths, stats, coefs, totals, gradOutput, layersGrad),
            i => InputGradientKernel(i, p, layers, lengths, stats, coefs, totals, gradOutput, layersGrad));
    }

    /// <summary>
    /// The first half of <see cref="Backward"/>: adds dL/ds and dL/dgamma and leaves <paramref name="totals"/> (a_l, S)
    /// filled, without the layers' gradient (a probe over frozen layers needs none).
    /// </summary>
    public void ParameterBackward(AcceleratorStream s, ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> gamma,
        ArrayView<float> stats, ArrayView<float> coefs, ArrayView<float> gradOutput, ArrayView<float> partials, ArrayView<float> totals,
        ArrayView<float> scalarsGrad, ArrayView<float> gammaGrad)
    {
        Check(p, layers, lengths, partials.SubView(0, Math.Min(partials.Length, (long)p.Layers * p.Dim)), stats, coefs);
        Require(partials.Length >= (long)(p.Layers + 1) * p.Dim && totals.Length >= p.Layers + 1, "ScalarMix backward: partials need [L + 1, D] and totals [L + 1].");
        Require(gradOutput.Length == p.Elements, "ScalarMix backward: the output gradient's shape differs from the forward's.");
        Require(scalarsGrad.Length == p.Layers && gammaGrad.Length == 1 && gamma.Length == 1, "ScalarMix backward: scalars gradient needs [L], gamma and its gradient [1].");
        runtime.For(s, (long)(p.Layers + 1) * p.Dim, (st, i) => backwardColumnSums(st, i, p, layers, stats, gradOutput, partials),
            i => BackwardColumnSumsKernel(i, p, layers, stats, gradOutput, partials));
        runtime.For(s, p.Layers + 1, (st, i) => backwardTotals(st, i, p, partials, totals), i => BackwardTotalsKernel(i, p, partials, totals));
        runtime.For(s, 1, (st, i) => parameterGradients(st, i, p, gamma, coefs, totals, scalarsGrad, gammaGrad),
            i => ParameterGradientsKernel(i, p, gamma, coefs, totals, scalarsGrad, gammaGrad));
    }

    static void Check(ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> partials, ArrayView<float> stats, ArrayView<float> coefs)
    {
        Require(p.Layers > 0 && p.Steps >= 0 && p.Batch > 0 && p.Dim > 0, $"ScalarMix: bad sizes L={p.Layers} T={p.Steps} B={p.Batch} D={p.Dim}.");
        Require(layers.Length == (long)p.Layers * p.Elements, $"ScalarMix: layers have {layers.Length} elements, expected [{p.Layers}, {p.Steps}, {p.Batch}, {p.Dim}].");
        Require(p.HasMask == 0 || lengths.Length == p.Batch, $"ScalarMix: lengths have {lengths.Length} elements, expected [{p.Batch}].");
        Require(lengths.Length > 0, "ScalarMix: pass a 1-element lengths view when there is no mask.");
        Require(partials.Length >= (long)p.Layers * p.Dim, "ScalarMix: partials need [L, D].");
        Require(stats.Length >= 2 * p.Layers + 1 && coefs.Length >= 2 * p.Layers, "ScalarMix: stats need [2L + 1] and coefs [2L].");
    }

    static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    static bool Valid(ScalarMixParams p, ArrayView<int> lengths, int position)
    {
        if (p.HasMask == 0) return true;
        int b = position % p.Batch;
        return position / p.Batch < lengths[b];
    }

    /// <summary>Unmasked positions of the batch (rows longer than T count T).</summary>
    static int ValidPositions(ScalarMixParams p, ArrayView<int> lengths)
    {
        if (p.HasMask == 0) return p.Positions;
        int count = 0;
        for (int b = 0; b < p.Batch; b++) count += Math.Max(0, Math.Min(lengths[b], p.Steps));
        return count;
    }

    /// <summary>One thread per (layer, column): partials[l, d] = sum over unmasked positions of x (moment 0) or (x - mean_l)^2 (moment 1).</summary>
    public static void ColumnMomentsKernel(Index1D i, ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> stats,
        ArrayView<float> partials, int moment)
    {
        int l = i / p.Dim, d = i - l * p.Dim;
        float mean = moment == 0 ? 0f : stats[l];
        long layerBase = (long)l * p.Elements + d;
        float sum = 0f;
        for (int n = 0; n < p.Positions; n++)
        {
            if (!Valid(p, lengths, n)) continue;
            float x = layers[layerBase + (long)n * p.Dim];
            sum += moment == 0 ? x : (x - mean) * (x - mean);
        }
        partials[i] = sum;
    }

    /// <summary>One thread per layer: stats[l] = mean (moment 0) or stats[L + l] = 1/sqrt(var + eps) and stats[2L] = 1/M (moment 1).</summary>
    public static void FinishMomentsKernel(Index1D l, ScalarMixParams p, ArrayView<int> lengths, ArrayView<float> partials, ArrayView<float> stats, int moment)
    {
        float sum = 0f;
        for (int d = 0; d < p.Dim; d++) sum += partials[(long)(int)l * p.Dim + d];
        float count = (float)ValidPositions(p, lengths) * p.Dim;
        // A batch with no unmasked position has no statistics: leave it unnormalised rather than divide by zero.
        if (moment == 0)
            stats[l] = count > 0f ? sum / count : 0f;
        else
        {
            stats[p.Layers + l] = count > 0f ? 1f / XMath.Sqrt(sum / count + LayerNormEpsilon) : 1f;
            if (l == 0) stats[2 * p.Layers] = count > 0f ? 1f / count : 0f;
        }
    }

    /// <summary>
    /// One thread per layer: coefs[l] = softmax(s)_l, coefs[L + l] = gamma * coefs[l] / sigma_l. KernelMath's
    /// exp, not XMath's (ex2.approx on CUDA), so the weights match the CPU's to a few ulps.
    /// </summary>
    public static void CoefficientsKernel(Index1D l, ScalarMixParams p, ArrayView<float> scalars, ArrayView<float> gamma, ArrayView<float> stats, ArrayView<float> coefs)
    {
        float max = scalars[0];
        for (int j = 1; j < p.Layers; j++) max = XMath.Max(max, scalars[j]);
        float total = 0f;
        for (int j = 0; j < p.Layers; j++) total += KernelMath.Exp(scalars[j] - max);
        float w = KernelMath.Exp(scalars[l] - max) / total;
        coefs[l] = w;
        coefs[p.Layers + l] = gamma[0] * w * (p.LayerNorm != 0 ? stats[p.Layers + l] : 1f);
    }

    /// <summary>One thread per output element: out = sum_l coefs[L + l] * (x_l - mean_l).</summary>
    public static void MixKernel(Index1D i, ScalarMixParams p, ArrayView<float> layers, ArrayView<float> stats, ArrayView<float> coefs, ArrayView<float> output)
    {
        float sum = 0f;
        for (int l = 0; l < p.Layers; l++)
        {
            float shift = p.LayerNorm != 0 ? stats[l] : 0f;
            sum += coefs[p.Layers + l] * (layers[(long)l * p.Elements + i] - shift);
        }
        output[i] = sum;
    }

    /// <summary>One thread per (row r &lt; L, column): partials[r, d] = sum over all positions of G * y_r; row L: sum of G.</summary>
    public static void BackwardColumnSumsKernel(Index1D i, ScalarMixParams p, ArrayView<float> layers, ArrayView<float> stats, ArrayView<float> gradOutput,
        ArrayView<float> partials)
    {
        int r = i / p.Dim, d = i - r * p.Dim;
        float sum = 0f;
        if (r == p.Layers)
        {
            for (int n = 0; n < p.Positions; n++) sum += gradOutput[(long)n * p.Dim + d];
        }
        else
        {
            float mean = p.LayerNorm != 0 ? stats[r] : 0f, inv = p.LayerNorm != 0 ? stats[p.Layers + r] : 1f;
            long layerBase = (long)r * p.Elements + d;
            for (int n = 0; n < p.Positions; n++)
                sum += gradOutput[(long)n * p.Dim + d] * (layers[layerBase + (long)n * p.Dim] - mean) * inv;
        }
        partials[i] = sum;
    }

    /// <summary>One thread per row: totals[r] = sum over columns of partials[r, :].</summary>
    public static void BackwardTotalsKernel(Index1D r, ScalarMixParams p, ArrayView<float> partials, ArrayView<float> totals)
    {
        float sum = 0f;
        for (int d = 0; d < p.Dim; d++) sum += partials[(long)(int)r * p.Dim + d];
        totals[r] = sum;
    }

    /// <summary>One thread: scalarsGrad[l] += w_l (gamma a_l - sum_i w_i gamma a_i), gammaGrad += sum_l w_l a_l.</summary>
    public static void ParameterGradientsKernel(Index1D i, ScalarMixParams p, ArrayView<float> gamma, ArrayView<float> coefs, ArrayView<float> totals,
        ArrayView<float> scalarsGrad, ArrayView<float> gammaGrad)
    {
        float weighted = 0f;
        for (int l = 0; l < p.Layers; l++) weighted += coefs[l] * totals[l];
        for (int l = 0; l < p.Layers; l++) scalarsGrad[l] += coefs[l] * gamma[0] * (totals[l] - weighted);
        gammaGrad[0] += weighted;
    }

    /// <summary>One thread per input element (l, n, d): dL/dh_l as in the class remarks.</summary>
    public static void InputGradientKernel(Index1D i, ScalarMixParams p, ArrayView<float> layers, ArrayView<int> lengths, ArrayView<float> stats,
        ArrayView<float> coefs, ArrayView<float> totals, ArrayView<float> gradOutput, ArrayView<float> layersGrad)
    {
        int l = (int)(i / p.Elements);
        long e = i - (long)l * p.Elements;
        float g = gradOutput[e];
        float grad;
        if (p.LayerNorm == 0)
            grad = coefs[p.Layers + l] * g;
        else
        {
            int n = (int)(e / p.Dim);
            float correction = 0f;
            if (Valid(p, lengths, n))
            {
                float y = (layers[i] - stats[l]) * stats[p.Layers + l];
                correction = (totals[p.Layers] + y * totals[l]) * stats[2 * p.Layers];
            }
            grad = coefs[p.Layers + l] * (g - correction);
        }
        layersGrad[i] = p.Accumulate != 0 ? layersGrad[i] + grad : grad;
    }
}

/// <summary>
/// Sizes and flags of a scalar mix: L layers of [T, B, D] time-major activations. HasMask: positions
/// (t, b) with t &gt;= lengths[b] are left out of the layer-norm statistics. Accumulate: backward adds
/// to the layers' gradient instead of overwriting it.
/// </summary>
public readonly record struct ScalarMixParams(int Layers, int Steps, int Batch, int Dim, int HasMask, int LayerNorm, int Accumulate)
{
    /// <summary>T * B.</summary>
    public int Positions => Steps * Batch;

    /// <summary>T * B * D, the elements of one layer.</summary>
    public int Elements => Steps * Batch * Dim;
}
