using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The character CNN's own kernels (bilm-tf's token encoder). For one filter group of width w and n
/// filters over tokens of L characters (P = L - w + 1 window positions):
/// <list type="number">
/// <item>Windows: each window's w character embeddings written as one row [w*d], so the convolution is a
/// single GEMM with the weights W [1, w, d, n] read as [w*d, n] (row j*d+e), bilm-tf's own layout.</item>
/// <item>Max over positions, then bias and activation (bilm-tf: conv + b, max_pool, activation; the bias
/// is constant over positions, so adding it after the max is the same), keeping the argmax position.</item>
/// <item>Backward: the activation's derivative, then gradients that flow only through each filter's argmax
/// window: the weight gradient (one thread per weight, tokens summed in order: deterministic) and the
/// gradient of the embedded characters (one thread per (token, embedding column), no races).</item>
/// </list>
/// and the highway layer's pointwise part, y = t * relu(x W_T + b_T) + (1 - t) * x with
/// t = sigmoid(x W_C + b_C) (bilm-tf's "carry" weights compute the gate t).
/// </summary>
public sealed class CharCnnKernels
{
    /// <summary>Activation codes in <see cref="CharConvParams.Activation"/>.</summary>
    public const int Relu = 0, Tanh = 1;

    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>> windows;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> maxPool;
    readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> activationBackward;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, CharConvGradViews, ArrayView<float>, ArrayView<float>> weightGrad;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, CharConvGradViews, ArrayView<float>, ArrayView<float>> inputGrad;
    readonly Action<AcceleratorStream, Index1D, int, HighwayViews> highwayForward;
    readonly Action<AcceleratorStream, Index1D, HighwayViews, ArrayView<float>> highwayBackward;

    public CharCnnKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        windows = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>>(WindowsKernel);
        maxPool = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>(MaxPoolKernel);
        activationBackward = acc.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ActivationBackwardKernel);
        weightGrad = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, CharConvGradViews, ArrayView<float>, ArrayView<float>>(WeightGradKernel);
        inputGrad = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, CharConvGradViews, ArrayView<float>, ArrayView<float>>(InputGradKernel);
        highwayForward = acc.LoadAutoGroupedKernel<Index1D, int, HighwayViews>(HighwayForwardKernel);
        highwayBackward = acc.LoadAutoGroupedKernel<Index1D, HighwayViews, ArrayView<float>>(HighwayBackwardKernel);
    }

    /// <summary>
    /// windows[(tok*P + t), j*d + e] = charEmbed[charIds[tok, t + j], e].
    /// charIds [N, L] (checked on the host); charEmbed [C, d]; windows [N*P, w*d].
    /// </summary>
    public void Windows(AcceleratorStream s, in CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<float> windows)
    {
        Check(charIds.Length == (long)p.Tokens * p.MaxChars, $"Windows: char ids have {charIds.Length} elements, expected [{p.Tokens}, {p.MaxChars}].");
        Check(windows.Length == (long)p.Tokens * p.Positions * p.Width * p.EmbedDim,
            $"Windows: windows have {windows.Length} elements, expected [{p.Tokens * p.Positions}, {p.Width * p.EmbedDim}].");
        var q = p;
        runtime.For(s, windows.Length, (st, i) => this.windows(st, i, q, charIds, charEmbed, windows),
            i => WindowsKernel(i, q, charIds, charEmbed, windows));
    }

    /// <summary>
    /// output[tok, off + f] = act(max_t conv[tok*P + t, f] + bias[f]); argmax[tok, off + f] = first t of the max.
    /// conv [N*P, n]; bias [n]; output and argmax [N, F] (F = all filters, this group at column off).
    /// </summary>
    public void MaxPool(AcceleratorStream s, in CharConvParams p, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax)
    {
        Check(conv.Length == (long)p.Tokens * p.Positions * p.Filters, $"MaxPool: conv has {conv.Length} elements, expected [{p.Tokens * p.Positions}, {p.Filters}].");
        Check(output.Length == (long)p.Tokens * p.TotalFilters && argmax.Length == output.Length,
            $"MaxPool: output {output.Length} / argmax {argmax.Length} elements, expected [{p.Tokens}, {p.TotalFilters}].");
        var q = p;
        runtime.For(s, (long)p.Tokens * p.Filters, (st, i) => maxPool(st, i, q, conv, bias, output, argmax),
            i => MaxPoolKernel(i, q, conv, bias, output, argmax));
    }

    /// <summary>gradPre[i] = gradOut[i] * act'(from the activation's output[i]); all views [N, F].</summary>
    public void ActivationBackward(AcceleratorStream s, int activation, ArrayView<float> output, ArrayView<float> gradOut, ArrayView<float> gradPre)
    {
        Check(output.Length == gradOut.Length && gradOut.Length == gradPre.Length, "ActivationBackward: views differ in length.");
        runtime.For(s, output.Length, (st, i) => activationBackward(st, i, activation, output, gradOut, gradPre),
            i => ActivationBackwardKernel(i, activation, output, gradOut, gradPre));
    }

    /// <summary>
    /// weightGrad[j*d + e, f] += sum over tokens of charEmbed[charIds[tok, argmax + j], e] * gradPre[tok, off + f]
    /// (argmax and gradPre of this group's filter f). weightGrad [w*d, n].
    /// </summary>
    public void WeightGrad(AcceleratorStream s, in CharConvParams p, in CharConvGradViews g, ArrayView<float> charEmbed, ArrayView<float> weightGrad)
    {
        Check(weightGrad.Length == (long)p.Width * p.EmbedDim * p.Filters, $"WeightGrad: gradient has {weightGrad.Length} elements, expected [{p.Width * p.EmbedDim}, {p.Filters}].");
        var q = p;
        var v = g;
        runtime.For(s, weightGrad.Length, (st, i) => this.weightGrad(st, i, q, v, charEmbed, weightGrad),
            i => WeightGradKernel(i, q, v, charEmbed, weightGrad));
    }

    /// <summary>
    /// gradEmbedded[tok, argmax_f + j, e] += weight[j*d + e, f] * gradPre[tok, off + f] for every filter f of
    /// the group. weight [w*d, n]; gradEmbedded [N, L, d] (groups are launched one after another).
    /// </summary>
    public void InputGrad(AcceleratorStream s, in CharConvParams p, in CharConvGradViews g, ArrayView<float> weight, ArrayView<float> gradEmbedded)
    {
        Check(gradEmbedded.Length == (long)p.Tokens * p.MaxChars * p.EmbedDim, $"InputGrad: gradient has {gradEmbedded.Length} elements, expected [{p.Tokens}, {p.MaxChars}, {p.EmbedDim}].");
        var q = p;
        var v = g;
        runtime.For(s, (long)p.Tokens * p.EmbedDim, (st, i) => inputGrad(st, i, q, v, weight, gradEmbedded),
            i => InputGradKernel(i, q, v, weight, gradEmbedded));
    }

    /// <summary>
    /// Highway pointwise forward for views [N, F]: gate = sigmoid(carryPre + bCarry), transform =
    /// relu(transformPre + bTransform), y = gate * transform + (1 - gate) * x. Saves gate and transform.
    /// </summary>
    public void HighwayForward(AcceleratorStream s, int features, in HighwayViews v)
    {
        Check(v.X.Length % features == 0 && v.Y.Length == v.X.Length, "HighwayForward: views differ in length.");
        var w = v;
        runtime.For(s, v.X.Length, (st, i) => highwayForward(st, i, features, w), i => HighwayForwardKernel(i, features, w));
    }

    /// <summary>
    /// Highway pointwise backward: from dy (in <see cref="HighwayViews.Y"/>) and the saved gate and transform,
    /// writes dCarryPre (into CarryPre), dTransformPre (into TransformPre) and the direct part dy*(1-gate) into
    /// <paramref name="gradX"/>; the GEMM parts of dx are added by the caller.
    /// </summary>
    public void HighwayBackward(AcceleratorStream s, in HighwayViews v, ArrayView<float> gradX)
    {
        Check(gradX.Length == v.X.Length, "HighwayBackward: views differ in length.");
        var w = v;
        runtime.For(s, v.X.Length, (st, i) => highwayBackward(st, i, w, gradX), i => HighwayBackwardKernel(i, w, gradX));
    }

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    public static void WindowsKernel(Index1D i, CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<float> windows)
    {
        int rowSize = p.Width * p.EmbedDim;
        int row = i / rowSize, q = i - row * rowSize;
        int token = row / p.Positions, t = row - token * p.Positions;
        int j = q / p.EmbedDim, e = q - j * p.EmbedDim;
        int c = charIds[(long)token * p.MaxChars + t + j];
        windows[i] = charEmbed[(long)c * p.EmbedDim + e];
    }

    public static void MaxPoolKernel(Index1D i, CharConvParams p, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax)
    {
        int token = i / p.Filters, f = i - token * p.Filters;
        long first = (long)token * p.Positions * p.Filters + f;
        float best = conv[first];
        int bestT = 0;
        for (int t = 1; t < p.Positions; t++)
        {
            float v = conv[first + (long)t * p.Filters];
            if (v > best)
            {
                best = v;
                bestT = t;
            }
        }
        float pre = best + bias[f];
        long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
        output[at] = p.Activation == Tanh ? XMath.Tanh(pre) : XMath.Max(pre, 0f);
        argmax[at] = bestT;
    }

    public static void ActivationBackwardKernel(Index1D i, int activation, ArrayView<float> output, ArrayView<float> gradOut, ArrayView<float> gradPre)
    {
        float y = output[i];
        gradPre[i] = activation == Tanh ? gradOut[i] * (1f - y * y) : (y > 0f ? gradOut[i] : 0f);
    }

    /// <summary>Thread per weight (j*d + e, f): tokens in ascending order, so the sum is the same on every run.</summary>
    public static void WeightGradKernel(Index1D i, CharConvParams p, CharConvGradViews g, ArrayView<float> charEmbed, ArrayView<float> weightGrad)
    {
        int q = i / p.Filters, f = i - q * p.Filters;
        int j = q / p.EmbedDim, e = q - j * p.EmbedDim;
        float sum = 0f;
        for (int token = 0; token < p.Tokens; token++)
        {
            long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
            int c = g.CharIds[(long)token * p.MaxChars + g.Argmax[at] + j];
            sum += charEmbed[(long)c * p.EmbedDim + e] * g.GradPre[at];
        }
        weightGrad[i] += sum;
    }

    /// <summary>Thread per (token, e): it alone writes column e of its token's [L, d] gradient, so no atomics.</summary>
    public static void InputGradKernel(Index1D i, CharConvParams p, CharConvGradViews g, ArrayView<float> weight, ArrayView<float> gradEmbedded)
    {
        int token = i / p.EmbedDim, e = i - token * p.EmbedDim;
        long tokenBase = (long)token * p.MaxChars * p.EmbedDim + e;
        for (int f = 0; f < p.Filters; f++)
        {
            long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
            float grad = g.GradPre[at];
            long position = tokenBase + (long)g.Argmax[at] * p.EmbedDim;
            for (int j = 0; j < p.Width; j++)
                gradEmbedded[position + (long)j * p.EmbedDim] += weight[((long)j * p.EmbedDim + e) * p.Filters + f] * grad;
        }
    }

    public static void HighwayForwardKernel(Index1D i, int features, HighwayViews v)
    {
        int f = i % features;
        float gate = 1f / (1f + XMath.Exp(-(v.CarryPre[i] + v.CarryBias[f])));
        float transform = XMath.Max(v.TransformPre[i] + v.TransformBias[f], 0f);
        v.Gate[i] = gate;
        v.Transform[i] = transform;
        v.Y[i] = gate * transform + (1f - gate) * v.X[i];
    }

    public static void HighwayBackwardKernel(Index1D i, HighwayViews v, ArrayView<float> gradX)
    {
        float dy = v.Y[i], gate = v.Gate[i], transform = v.Transform[i];
        float dGate = dy * (transform - v.X[i]);
        v.CarryPre[i] = dGate * gate * (1f - gate);
        v.TransformPre[i] = transform > 0f ? dy * gate : 0f;
        gradX[i] = dy * (1f - gate);
    }
}

/// <summary>
/// One filter group of the char CNN: N tokens of L (max) characters embedded in d, filter width w,
/// n filters at column offset Off of all F filters, P = L - w + 1 positions, activation (relu 0, tanh 1).
/// </summary>
public readonly record struct CharConvParams(
    int Tokens, int MaxChars, int EmbedDim, int Width, int Filters, int ColumnOffset, int TotalFilters, int Activation)
{
    public int Positions => MaxChars - Width + 1;
}

/// <summary>What the conv backward kernels read: CharIds [N, L], Argmax [N, F], GradPre [N, F] (gradient before the activation).</summary>
public readonly record struct CharConvGradViews(ArrayView<int> CharIds, ArrayView<int> Argmax, ArrayView<float> GradPre);

/// <summary>
/// One highway layer's pointwise views, all [N, F] except the biases [F]. Forward reads X, CarryPre
/// (x W_carry) and TransformPre (x W_transform) and writes Gate, Transform and Y. Backward reads X,
/// Gate, Transform and dy in Y, and overwrites CarryPre and TransformPre with their gradients.
/// </summary>
public readonly record struct HighwayViews(
    ArrayView<float> X, ArrayView<float> CarryPre, ArrayView<float> TransformPre,
    ArrayView<float> CarryBias, ArrayView<float> TransformBias,
    ArrayView<float> Gate, ArrayView<float> Transform, ArrayView<float> Y);
