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
/// <item>Backward: the activation's derivative; the max-pool's backward routes each filter's gradient to its
/// argmax row of a dense conv gradient dConv [N*P, n] (zeros elsewhere), so the rest is the forward GEMM's
/// two gradient GEMMs (the caller's: dW += windows^T dConv, dWindows = dConv W^T) and the windows'
/// backward, which adds each window row back onto the characters it was gathered from (one thread per
/// (token, character, embedding column): no races, a fixed order, the same sums on every run), then the
/// character embedding's gradient (<see cref="EmbeddingGradient"/>), where the padding character, about
/// 80 % of a window's positions, is summed per token first: one add per token, not one per position.</item>
/// </list>
/// Host execution runs the window, max-pool, highway and embedding-gradient kernels as <see cref="CharCnnHost"/>'
/// per-token and per-row versions; the per-element maths both share is <see cref="CharCnnElement"/>, whose tanh
/// and highway gate are <see cref="KernelMath"/>'s (within a few ulps on every device; XMath's are tanh.approx
/// and ex2.approx on CUDA).
/// Also the highway layer's pointwise part, y = t * relu(x W_T + b_T) + (1 - t) * x with
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
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>> maxPoolBackward;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<float>, ArrayView<float>> windowsBackward;
    readonly Action<AcceleratorStream, Index1D, int, HighwayViews> highwayForward;
    readonly Action<AcceleratorStream, Index1D, HighwayViews, ArrayView<float>> highwayBackward;
    readonly Action<AcceleratorStream, Index1D, CharEmbeddingParams, ArrayView<int>, ArrayView<float>, ArrayView<float>> embeddingGradient;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>> convWeightGradient;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> convInputGradient;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>> leadingWindows;
    readonly Action<AcceleratorStream, Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> maxPoolLeading;

    public CharCnnKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        windows = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>>(WindowsKernel);
        maxPool = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>(MaxPoolKernel);
        activationBackward = acc.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ActivationBackwardKernel);
        maxPoolBackward = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>>(MaxPoolBackwardKernel);
        windowsBackward = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<float>, ArrayView<float>>(WindowsBackwardKernel);
        highwayForward = acc.LoadAutoGroupedKernel<Index1D, int, HighwayViews>(HighwayForwardKernel);
        highwayBackward = acc.LoadAutoGroupedKernel<Index1D, HighwayViews, ArrayView<float>>(HighwayBackwardKernel);
        embeddingGradient = acc.LoadAutoGroupedKernel<Index1D, CharEmbeddingParams, ArrayView<int>, ArrayView<float>, ArrayView<float>>(EmbeddingGradientKernel);
        convWeightGradient = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>>(
            ConvWeightGradientKernel);
        convInputGradient = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            ConvInputGradientKernel);
        leadingWindows = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(LeadingWindowsKernel);
        maxPoolLeading = acc.LoadAutoGroupedKernel<Index1D, CharConvParams, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>(
            MaxPoolLeadingKernel);
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
        runtime.ForRows(s, windows.Length, (st, i) => this.windows(st, i, q, charIds, charEmbed, windows),
            p.Tokens, token => CharCnnHost.Windows(token, q, charIds, charEmbed, windows));
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
        runtime.ForRows(s, (long)p.Tokens * p.Filters, (st, i) => maxPool(st, i, q, conv, bias, output, argmax),
            p.Tokens, token => CharCnnHost.MaxPool(token, q, conv, bias, output, argmax));
    }

    /// <summary>
    /// The windows worth computing, for host execution's convolution: a token's characters end in a run of one
    /// character (the padding character after the end-of-word mark, or id 0 for a padding token) from position s
    /// on, so its windows from s on are all that run's window and have the same conv output; the max-pool needs
    /// the first of them only (ties keep the earlier position). A token keeps its leading min(s + 1, P) windows:
    /// about 8 of a short word's 47-50. Writes rowStarts [N + 1] (token t's windows are compact rows
    /// rowStarts[t] .. rowStarts[t + 1] - 1, its positions 0, 1, ...) and returns the rows in all. Reads the ids on
    /// the host: CPU accelerator memory only (GPUs run every window).
    /// </summary>
    public int LeadingWindowRows(in CharConvParams p, ArrayView<int> charIds, ArrayView<int> rowStarts)
    {
        Check(charIds.Length == (long)p.Tokens * p.MaxChars, $"LeadingWindowRows: char ids have {charIds.Length} elements, expected [{p.Tokens}, {p.MaxChars}].");
        Check(rowStarts.Length == p.Tokens + 1L, $"LeadingWindowRows: row starts have {rowStarts.Length} elements, expected {p.Tokens + 1}.");
        var ids = charIds.AsHostSpan();
        var starts = rowStarts.AsHostSpan();
        int rows = 0;
        for (int token = 0; token < p.Tokens; token++)
        {
            starts[token] = rows;
            var row = ids.Slice(token * p.MaxChars, p.MaxChars);
            int fill = row[p.MaxChars - 1], s = p.MaxChars - 1;
            while (s > 0 && row[s - 1] == fill) s--;
            rows += Math.Min(s + 1, p.Positions);
        }
        starts[p.Tokens] = rows;
        return rows;
    }

    /// <summary>
    /// <see cref="Windows"/> for each token's leading windows only (<see cref="LeadingWindowRows"/>): compact row
    /// rowStarts[tok] + t holds window t. windows [rowStarts[N], w*d].
    /// </summary>
    public void LeadingWindows(AcceleratorStream s, in CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> rowStarts,
        ArrayView<float> windows)
    {
        Check(charIds.Length == (long)p.Tokens * p.MaxChars, $"LeadingWindows: char ids have {charIds.Length} elements, expected [{p.Tokens}, {p.MaxChars}].");
        Check(rowStarts.Length == p.Tokens + 1L, $"LeadingWindows: row starts have {rowStarts.Length} elements, expected {p.Tokens + 1}.");
        Check(windows.Length % (p.Width * p.EmbedDim) == 0 && windows.Length <= (long)p.Tokens * p.Positions * p.Width * p.EmbedDim,
            $"LeadingWindows: windows have {windows.Length} elements, not whole rows of {p.Width * p.EmbedDim} within [{p.Tokens * p.Positions}, {p.Width * p.EmbedDim}].");
        var q = p;
        runtime.ForRows(s, (long)p.Tokens * p.Positions * p.Width * p.EmbedDim, (st, i) => leadingWindows(st, i, q, charIds, charEmbed, rowStarts, windows),
            p.Tokens, token => CharCnnHost.LeadingWindows(token, q, charIds, charEmbed, rowStarts, windows));
    }

    /// <summary>
    /// <see cref="MaxPool"/> over each token's leading windows: conv [rowStarts[N], n], the token's positions
    /// 0 .. rowStarts[tok + 1] - rowStarts[tok] - 1; output and argmax as MaxPool's (the same values: the windows
    /// left out repeat the last one kept).
    /// </summary>
    public void MaxPoolLeading(AcceleratorStream s, in CharConvParams p, ArrayView<int> rowStarts, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax)
    {
        Check(rowStarts.Length == p.Tokens + 1L, $"MaxPoolLeading: row starts have {rowStarts.Length} elements, expected {p.Tokens + 1}.");
        Check(conv.Length % p.Filters == 0 && conv.Length <= (long)p.Tokens * p.Positions * p.Filters,
            $"MaxPoolLeading: conv has {conv.Length} elements, not whole rows of {p.Filters} within [{p.Tokens * p.Positions}, {p.Filters}].");
        Check(output.Length == (long)p.Tokens * p.TotalFilters && argmax.Length == output.Length,
            $"MaxPoolLeading: output {output.Length} / argmax {argmax.Length} elements, expected [{p.Tokens}, {p.TotalFilters}].");
        var q = p;
        runtime.ForRows(s, (long)p.Tokens * p.Filters, (st, i) => maxPoolLeading(st, i, q, rowStarts, conv, bias, output, argmax),
            p.Tokens, token => CharCnnHost.MaxPoolLeading(token, q, rowStarts, conv, bias, output, argmax));
    }

    /// <summary>gradPre[i] = gradOut[i] * act'(from the activation's output[i]); all views [N, F].</summary>
    public void ActivationBackward(AcceleratorStream s, int activation, ArrayView<float> output, ArrayView<float> gradOut, ArrayView<float> gradPre)
    {
        Check(output.Length == gradOut.Length && gradOut.Length == gradPre.Length, "ActivationBackward: views differ in length.");
        runtime.For(s, output.Length, (st, i) => activationBackward(st, i, activation, output, gradOut, gradPre),
            i => ActivationBackwardKernel(i, activation, output, gradOut, gradPre));
    }

    /// <summary>
    /// Backward of <see cref="MaxPool"/>'s max: gradConv[tok*P + t, f] = gradPre[tok, off + f] where t is that
    /// filter's argmax, else 0. argmax and gradPre [N, F] (this group at column off); gradConv [N*P, n].
    /// </summary>
    public void MaxPoolBackward(AcceleratorStream s, in CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, ArrayView<float> gradConv)
    {
        Check(argmax.Length == (long)p.Tokens * p.TotalFilters && gradPre.Length == argmax.Length,
            $"MaxPoolBackward: argmax {argmax.Length} / gradient {gradPre.Length} elements, expected [{p.Tokens}, {p.TotalFilters}].");
        Check(gradConv.Length == (long)p.Tokens * p.Positions * p.Filters,
            $"MaxPoolBackward: conv gradient has {gradConv.Length} elements, expected [{p.Tokens * p.Positions}, {p.Filters}].");
        var q = p;
        runtime.ForRows(s, gradConv.Length, (st, i) => maxPoolBackward(st, i, q, argmax, gradPre, gradConv),
            p.Tokens, token => CharCnnHost.MaxPoolBackward(token, q, argmax, gradPre, gradConv));
    }

    /// <summary>
    /// Backward of <see cref="Windows"/> into the embedded characters: gradEmbedded[tok, c, e] += sum over the
    /// window offsets j (0 &lt;= c - j &lt; P, j &lt; w, ascending) of gradWindows[tok*P + c - j, j*d + e].
    /// gradWindows [N*P, w*d]; gradEmbedded [N, L, d] (groups add one after another).
    /// </summary>
    public void WindowsBackward(AcceleratorStream s, in CharConvParams p, ArrayView<float> gradWindows, ArrayView<float> gradEmbedded)
    {
        Check(gradWindows.Length == (long)p.Tokens * p.Positions * p.Width * p.EmbedDim,
            $"WindowsBackward: window gradient has {gradWindows.Length} elements, expected [{p.Tokens * p.Positions}, {p.Width * p.EmbedDim}].");
        Check(gradEmbedded.Length == (long)p.Tokens * p.MaxChars * p.EmbedDim,
            $"WindowsBackward: gradient has {gradEmbedded.Length} elements, expected [{p.Tokens}, {p.MaxChars}, {p.EmbedDim}].");
        var q = p;
        runtime.ForRows(s, gradEmbedded.Length, (st, i) => windowsBackward(st, i, q, gradWindows, gradEmbedded),
            p.Tokens, token => CharCnnHost.WindowsBackward(token, q, gradWindows, gradEmbedded));
    }

    /// <summary>
    /// The conv weights' gradient read straight from the argmax windows, instead of <see cref="MaxPoolBackward"/>'s dense
    /// dConv and a GEMM over every window: weightGrad[j*d + e, f] += sum over tokens (ascending) of
    /// gradPre[tok, off + f] * charEmbed[charIds[tok, argmax[tok, off + f] + j], e], zero gradients skipped. Each
    /// filter's gradient reaches one window per token, so this is 1/P of the dense GEMM's multiply-adds (P = 47-50
    /// positions); the GEMM's sums are kept per KC block, these in one register, so the two differ in the last bits.
    /// charIds [N, L]; charEmbed [C, d]; argmax and gradPre [N, F]; weightGrad [w*d, n] (W [1, w, d, n]'s layout).
    /// Host execution splits the filters between workers, each summing its filters' rows a window slice at a time.
    /// </summary>
    public void ConvWeightGradient(AcceleratorStream s, in CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> argmax,
        ArrayView<float> gradPre, ArrayView<float> weightGrad)
    {
        Check(charIds.Length == (long)p.Tokens * p.MaxChars, $"ConvWeightGradient: char ids have {charIds.Length} elements, expected [{p.Tokens}, {p.MaxChars}].");
        Check(argmax.Length == (long)p.Tokens * p.TotalFilters && gradPre.Length == argmax.Length,
            $"ConvWeightGradient: argmax {argmax.Length} / gradient {gradPre.Length} elements, expected [{p.Tokens}, {p.TotalFilters}].");
        Check(charEmbed.Length % p.EmbedDim == 0, $"ConvWeightGradient: a character table of {charEmbed.Length} elements has no rows of {p.EmbedDim}.");
        Check(weightGrad.Length == (long)p.Width * p.EmbedDim * p.Filters,
            $"ConvWeightGradient: weight gradient has {weightGrad.Length} elements, expected [{p.Width * p.EmbedDim}, {p.Filters}].");
        var q = p;
        if (runtime.RunOnHost)
        {
            runtime.CountLaunch();
            int rowSize = p.Width * p.EmbedDim;
            var sums = System.Buffers.ArrayPool<float>.Shared.Rent(p.Filters * rowSize);
            try
            {
                // Work per filter is a window slice per token: the hand-off pays for itself by that count, not by the output's size.
                int parts = Math.Min(HostWorkers.Shared.Threads, p.Filters);
                KernelRuntime.HostRows(parts, (long)p.Tokens * p.Filters * rowSize, part => CharCnnHost.ConvWeightGradient(q, charIds, charEmbed, argmax, gradPre, weightGrad,
                    q.Filters * part / parts, q.Filters * (part + 1) / parts, sums));
            }
            finally
            {
                System.Buffers.ArrayPool<float>.Shared.Return(sums);
            }
            return;
        }
        runtime.For(s, weightGrad.Length, (st, i) => convWeightGradient(st, i, q, charIds, charEmbed, argmax, gradPre, weightGrad),
            i => ConvWeightGradientKernel(i, q, charIds, charEmbed, argmax, gradPre, weightGrad));
    }

    /// <summary>
    /// The embedded characters' gradient straight from the argmax windows (<see cref="MaxPoolBackward"/>, the dWindows
    /// GEMM and <see cref="WindowsBackward"/> in one): gradEmbedded[tok, c, e] += sum over filters f (ascending) whose
    /// argmax window covers c (j = c - argmax in [0, w)) of gradPre[tok, off + f] * weight[j*d + e, f], zero
    /// gradients skipped. One thread per (token, character, e): no races, a fixed order. Host execution runs a token
    /// per call, adding each filter's weight slice onto the characters it covers (the same terms in the same order).
    /// argmax and gradPre [N, F]; weight [w*d, n]; gradEmbedded [N, L, d] (groups add one after another).
    /// </summary>
    public void ConvInputGradient(AcceleratorStream s, in CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, ArrayView<float> weight,
        ArrayView<float> gradEmbedded)
    {
        Check(argmax.Length == (long)p.Tokens * p.TotalFilters && gradPre.Length == argmax.Length,
            $"ConvInputGradient: argmax {argmax.Length} / gradient {gradPre.Length} elements, expected [{p.Tokens}, {p.TotalFilters}].");
        Check(weight.Length == (long)p.Width * p.EmbedDim * p.Filters,
            $"ConvInputGradient: weights have {weight.Length} elements, expected [{p.Width * p.EmbedDim}, {p.Filters}].");
        Check(gradEmbedded.Length == (long)p.Tokens * p.MaxChars * p.EmbedDim,
            $"ConvInputGradient: gradient has {gradEmbedded.Length} elements, expected [{p.Tokens}, {p.MaxChars}, {p.EmbedDim}].");
        var q = p;
        if (runtime.RunOnHost)
        {
            // The host body reads each filter's w*d weights as one row: W transposed to [n, w*d] once per call.
            int rowSize = p.Width * p.EmbedDim;
            var transposed = System.Buffers.ArrayPool<float>.Shared.Rent(p.Filters * rowSize);
            try
            {
                var w = weight.AsHostSpan();
                for (int r = 0; r < rowSize; r++)
                    for (int f = 0; f < p.Filters; f++)
                        transposed[f * rowSize + r] = w[r * p.Filters + f];
                runtime.CountLaunch();
                KernelRuntime.HostRows(p.Tokens, gradEmbedded.Length, token => CharCnnHost.ConvInputGradient(token, q, argmax, gradPre, transposed, gradEmbedded));
            }
            finally
            {
                System.Buffers.ArrayPool<float>.Shared.Return(transposed);
            }
            return;
        }
        runtime.For(s, gradEmbedded.Length, (st, i) => convInputGradient(st, i, q, argmax, gradPre, weight, gradEmbedded),
            i => ConvInputGradientKernel(i, q, argmax, gradPre, weight, gradEmbedded));
    }

    /// <summary>
    /// The character embedding table's gradient from the embedded characters' gradient: tableGrad[c, :] +=
    /// the sum of gradEmbedded[tok, t, :] over the positions (tok, t) whose id is c. Padding tokens (id 0)
    /// add nothing. The padding character (<see cref="CharEmbeddingParams.PaddingId"/>, most positions of a
    /// short word) is summed over each token's positions in a register and added once per token, so its row
    /// gets N adds per column instead of one per padding position (the atomic storm of a plain scatter-add);
    /// other characters are added atomically (in any order: float sums may differ in the last bits run to
    /// run on GPUs). Host execution splits the table's rows between workers, each adding its rows' positions
    /// in token and position order: the same sums every run. charIds [N, L]; gradEmbedded [N, L, d]; tableGrad [C, d].
    /// </summary>
    public void EmbeddingGradient(AcceleratorStream s, in CharEmbeddingParams p, ArrayView<int> charIds, ArrayView<float> gradEmbedded, ArrayView<float> tableGrad)
    {
        Check(charIds.Length == (long)p.Tokens * p.MaxChars, $"EmbeddingGradient: char ids have {charIds.Length} elements, expected [{p.Tokens}, {p.MaxChars}].");
        Check(gradEmbedded.Length == charIds.Length * p.EmbedDim,
            $"EmbeddingGradient: gradient has {gradEmbedded.Length} elements, expected [{p.Tokens}, {p.MaxChars}, {p.EmbedDim}].");
        Check(tableGrad.Length % p.EmbedDim == 0 && p.PaddingId < tableGrad.Length / p.EmbedDim,
            $"EmbeddingGradient: a table gradient of {tableGrad.Length} elements has no row {p.PaddingId} of {p.EmbedDim}.");
        var q = p;
        if (runtime.RunOnHost)
        {
            runtime.CountLaunch();
            int parts = HostWorkers.Shared.Threads;
            long rows = tableGrad.Length / p.EmbedDim;
            KernelRuntime.HostRows(parts, gradEmbedded.Length, part =>
                CharCnnHost.EmbeddingGradient(q, charIds, gradEmbedded, tableGrad, rows * part / parts, rows * (part + 1) / parts));
            return;
        }
        runtime.For(s, (long)p.Tokens * p.EmbedDim, (st, i) => embeddingGradient(st, i, q, charIds, gradEmbedded, tableGrad),
            i => EmbeddingGradientKernel(i, q, charIds, gradEmbedded, tableGrad));
    }

    /// <summary>
    /// Highway pointwise forward for views [N, F]: gate = sigmoid(carryPre + bCarry), transform =
    /// relu(transformPre + bTransform), y = gate * transform + (1 - gate) * x. Saves gate and transform.
    /// </summary>
    public void HighwayForward(AcceleratorStream s, int features, in HighwayViews v)
    {
        Check(v.X.Length % features == 0 && v.Y.Length == v.X.Length, "HighwayForward: views differ in length.");
        var w = v;
        runtime.ForRows(s, v.X.Length, (st, i) => highwayForward(st, i, features, w), (int)(v.X.Length / features),
            row => CharCnnHost.HighwayForward(row, features, w));
    }

    /// <summary>
    /// Highway pointwise backward: from dy (in <see cref="HighwayViews.Y"/>) and the saved gate and transform,
    /// writes dCarryPre (into CarryPre), dTransformPre (into TransformPre) and the direct part dy*(1-gate) into
    /// <paramref name="gradX"/>; the GEMM parts of dx are added by the caller.
    /// </summary>
    public void HighwayBackward(AcceleratorStream s, int features, in HighwayViews v, ArrayView<float> gradX)
    {
        Check(gradX.Length == v.X.Length && v.X.Length % features == 0, "HighwayBackward: views differ in length.");
        var w = v;
        runtime.ForRows(s, v.X.Length, (st, i) => highwayBackward(st, i, w, gradX), (int)(v.X.Length / features),
            row => CharCnnHost.HighwayBackward(row, features, w, gradX));
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
        windows[i] = WindowElement(p, charIds, charEmbed, token, t, q);
    }

    public static void MaxPoolKernel(Index1D i, CharConvParams p, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax)
    {
        int token = i / p.Filters, f = i - token * p.Filters;
        PoolColumn(p, conv, (long)token * p.Positions, p.Positions, bias, output, argmax, token, f);
    }

    public static void LeadingWindowsKernel(Index1D i, CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> rowStarts,
        ArrayView<float> windows)
    {
        int rowSize = p.Width * p.EmbedDim;
        int row = i / rowSize, q = i - row * rowSize;
        int token = row / p.Positions, t = row - token * p.Positions;
        int start = rowStarts[token];
        if (t >= rowStarts[token + 1] - start) return;
        windows[((long)start + t) * rowSize + q] = WindowElement(p, charIds, charEmbed, token, t, q);
    }

    public static void MaxPoolLeadingKernel(Index1D i, CharConvParams p, ArrayView<int> rowStarts, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax)
    {
        int token = i / p.Filters, f = i - token * p.Filters;
        int start = rowStarts[token];
        PoolColumn(p, conv, start, rowStarts[token + 1] - start, bias, output, argmax, token, f);
    }

    /// <summary>Element q = j*d + e of window t of a token: the embedding of its character t + j, column e.</summary>
    static float WindowElement(in CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, int token, int t, int q)
    {
        int j = q / p.EmbedDim, e = q - j * p.EmbedDim;
        int c = charIds[(long)token * p.MaxChars + t + j];
        return charEmbed[(long)c * p.EmbedDim + e];
    }

    /// <summary>Filter f's max over a token's conv rows firstRow .. firstRow + positions - 1 (first on ties), then bias and activation.</summary>
    static void PoolColumn(in CharConvParams p, ArrayView<float> conv, long firstRow, int positions, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax, int token, int f)
    {
        long first = firstRow * p.Filters + f;
        float best = conv[first];
        int bestT = 0;
        for (int t = 1; t < positions; t++)
        {
            float v = conv[first + (long)t * p.Filters];
            if (CharCnnElement.Improves(v, best))
            {
                best = v;
                bestT = t;
            }
        }
        long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
        output[at] = CharCnnElement.Activate(best + bias[f], p.Activation);
        argmax[at] = bestT;
    }

    public static void ActivationBackwardKernel(Index1D i, int activation, ArrayView<float> output, ArrayView<float> gradOut, ArrayView<float> gradPre)
    {
        float y = output[i];
        gradPre[i] = activation == Tanh ? gradOut[i] * (1f - y * y) : (y > 0f ? gradOut[i] : 0f);
    }

    public static void MaxPoolBackwardKernel(Index1D i, CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, ArrayView<float> gradConv)
    {
        int row = i / p.Filters, f = i - row * p.Filters;
        int token = row / p.Positions, t = row - token * p.Positions;
        long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
        gradConv[i] = argmax[at] == t ? gradPre[at] : 0f;
    }

    /// <summary>Thread per (token, character, e): it alone writes its element, so no atomics.</summary>
    public static void WindowsBackwardKernel(Index1D i, CharConvParams p, ArrayView<float> gradWindows, ArrayView<float> gradEmbedded)
    {
        int row = i / p.EmbedDim, e = i - row * p.EmbedDim;
        int token = row / p.MaxChars, c = row - token * p.MaxChars;
        int rowSize = p.Width * p.EmbedDim;
        int first = CharCnnElement.FirstOffset(p, c), last = CharCnnElement.LastOffset(p, c);
        float sum = 0f;
        for (int j = first; j <= last; j++)
            sum += gradWindows[((long)token * p.Positions + c - j) * rowSize + j * p.EmbedDim + e];
        gradEmbedded[i] += sum;
    }

    public static void HighwayForwardKernel(Index1D i, int features, HighwayViews v)
    {
        int f = i % features;
        float gate = CharCnnElement.Gate(v.CarryPre[i] + v.CarryBias[f]);
        float transform = XMath.Max(v.TransformPre[i] + v.TransformBias[f], 0f);
        v.Gate[i] = gate;
        v.Transform[i] = transform;
        v.Y[i] = CharCnnElement.HighwayOutput(gate, transform, v.X[i]);
    }

    public static void HighwayBackwardKernel(Index1D i, HighwayViews v, ArrayView<float> gradX)
    {
        var g = CharCnnElement.HighwayBackward(v.Y[i], v.Gate[i], v.Transform[i], v.X[i]);
        v.CarryPre[i] = g.CarryPre;
        v.TransformPre[i] = g.TransformPre;
        gradX[i] = g.X;
    }

    /// <summary>Thread per weight element (j*d + e, f): the tokens' argmax windows summed in a register, then added on.</summary>
    public static void ConvWeightGradientKernel(Index1D i, CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> argmax,
        ArrayView<float> gradPre, ArrayView<float> weightGrad)
    {
        int r = i / p.Filters, f = i - r * p.Filters;
        int j = r / p.EmbedDim, e = r - j * p.EmbedDim;
        float sum = 0f;
        for (int token = 0; token < p.Tokens; token++)
        {
            long at = (long)token * p.TotalFilters + p.ColumnOffset + f;
            float g = gradPre[at];
            if (g == 0f) continue;
            int c = charIds[(long)token * p.MaxChars + argmax[at] + j];
            sum += g * charEmbed[(long)c * p.EmbedDim + e];
        }
        weightGrad[i] += sum;
    }

    /// <summary>Thread per (token, character c, e): the filters whose argmax window covers c, in filter order.</summary>
    public static void ConvInputGradientKernel(Index1D i, CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, ArrayView<float> weight,
        ArrayView<float> gradEmbedded)
    {
        int row = i / p.EmbedDim, e = i - row * p.EmbedDim;
        int token = row / p.MaxChars, c = row - token * p.MaxChars;
        long first = (long)token * p.TotalFilters + p.ColumnOffset;
        float sum = 0f;
        for (int f = 0; f < p.Filters; f++)
        {
            float g = gradPre[first + f];
            if (g == 0f) continue;
            int j = c - argmax[first + f];
            if (j >= 0 && j < p.Width) sum += g * weight[((long)j * p.EmbedDim + e) * p.Filters + f];
        }
        gradEmbedded[i] += sum;
    }

    /// <summary>Thread per (token, column e): the token's padding positions summed in a register, one add each for the rest.</summary>
    public static void EmbeddingGradientKernel(Index1D i, CharEmbeddingParams p, ArrayView<int> charIds, ArrayView<float> gradEmbedded, ArrayView<float> tableGrad)
    {
        int token = i / p.EmbedDim, e = i - token * p.EmbedDim;
        long first = (long)token * p.MaxChars;
        float padding = 0f;
        bool padded = false;
        for (int c = 0; c < p.MaxChars; c++)
        {
            int id = charIds[first + c];
            float g = gradEmbedded[(first + c) * p.EmbedDim + e];
            if (id == p.PaddingId)
            {
                padding += g;
                padded = true;
            }
            else if (id != 0) AddChecked(ref tableGrad[(long)id * p.EmbedDim + e], g);
        }
        if (padded) AddChecked(ref tableGrad[(long)p.PaddingId * p.EmbedDim + e], padding);
    }

    /// <summary>
    /// An atomic add, except that NaN is stored plainly: ILGPU's CPU and OpenCL atomics are compare-and-swap
    /// loops that never finish on NaN (NaN != NaN); a diverged gradient stops training at the next norm check.
    /// </summary>
    static void AddChecked(ref float target, float value)
    {
        if (float.IsNaN(value) || float.IsNaN(target)) target = float.NaN;
        else Atomic.Add(ref target, value);
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


/// <summary>
/// One highway layer's pointwise views, all [N, F] except the biases [F]. Forward reads X, CarryPre
/// (x W_carry) and TransformPre (x W_transform) and writes Gate, Transform and Y. Backward reads X,
/// Gate, Transform and dy in Y, and overwrites CarryPre and TransformPre with their gradients.
/// </summary>
public readonly record struct HighwayViews(
    ArrayView<float> X, ArrayView<float> CarryPre, ArrayView<float> TransformPre,
    ArrayView<float> CarryBias, ArrayView<float> TransformBias,
    ArrayView<float> Gate, ArrayView<float> Transform, ArrayView<float> Y);

/// <summary>
/// The character embedding's gradient for N tokens of L characters embedded in d: row <see cref="PaddingId"/>
/// is the padding character's (bilm-tf's 260 shifted by one: 261); id 0 marks padding tokens (no gradient).
/// </summary>
public readonly record struct CharEmbeddingParams(int Tokens, int MaxChars, int EmbedDim, int PaddingId);
