using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="CharCnnKernels"/>' window, max-pool and highway kernels, one token
/// (or row) per call, each named after the kernel it stands for: whole rows copied, compared and added as
/// spans instead of one element per call, the per-element maths <see cref="CharCnnElement"/>'s. The tanh
/// activation and the highway's sigmoid go through <see cref="TensorPrimitives"/> (a few ulps from the
/// kernels' KernelMath; HostParityTests states the bound); everything else is bit-equal. Views are
/// CPU-accelerator memory.
/// </summary>
static class CharCnnHost
{
    /// <summary>The token's P window rows [w*d]: row t is the embeddings of characters t .. t+w-1 back to back.</summary>
    public static void Windows(int token, CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<float> windows) =>
        WindowRows(p, charIds, charEmbed, token, (long)token * p.Positions, p.Positions, windows);

    /// <summary><see cref="CharCnnKernels.LeadingWindowsKernel"/> for one token: its leading windows as <see cref="Windows"/> writes them, at its compact rows.</summary>
    public static void LeadingWindows(int token, CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> rowStarts,
        ArrayView<float> windows) =>
        WindowRows(p, charIds, charEmbed, token, rowStarts[token], rowStarts[token + 1] - rowStarts[token], windows);

    static void WindowRows(CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, int token, long firstRow, int count, ArrayView<float> windows)
    {
        int d = p.EmbedDim, rowSize = p.Width * d;
        var ids = charIds.SubView((long)token * p.MaxChars, p.MaxChars).AsHostSpan();
        var table = charEmbed.AsHostSpan();
        var rows = windows.SubView(firstRow * rowSize, (long)count * rowSize).AsHostSpan();
        for (int t = 0; t < count; t++)
            for (int j = 0; j < p.Width; j++)
                table.Slice(ids[t + j] * d, d).CopyTo(rows.Slice(t * rowSize + j * d, d));
    }

    /// <summary>Each filter's max over the token's positions (first on ties), then bias and activation.</summary>
    public static void MaxPool(int token, CharConvParams p, ArrayView<float> conv, ArrayView<float> bias, ArrayView<float> output, ArrayView<int> argmax) =>
        PoolRows(p, conv, (long)token * p.Positions, p.Positions, bias, output, argmax, token);

    /// <summary><see cref="CharCnnKernels.MaxPoolLeadingKernel"/> for one token: <see cref="MaxPool"/> over its compact rows.</summary>
    public static void MaxPoolLeading(int token, CharConvParams p, ArrayView<int> rowStarts, ArrayView<float> conv, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<int> argmax) =>
        PoolRows(p, conv, rowStarts[token], rowStarts[token + 1] - rowStarts[token], bias, output, argmax, token);

    static void PoolRows(CharConvParams p, ArrayView<float> conv, long firstRow, int positions, ArrayView<float> bias, ArrayView<float> output,
        ArrayView<int> argmax, int token)
    {
        int n = p.Filters;
        var rows = conv.SubView(firstRow * n, (long)positions * n).AsHostSpan();
        var best = output.SubView((long)token * p.TotalFilters + p.ColumnOffset, n).AsHostSpan();
        var bestT = argmax.SubView((long)token * p.TotalFilters + p.ColumnOffset, n).AsHostSpan();
        rows[..n].CopyTo(best);
        bestT.Clear();
        for (int t = 1; t < positions; t++)
        {
            var row = rows.Slice(t * n, n);
            int f = 0;
            if (Vector.IsHardwareAccelerated)
            {
                // Strictly greater, as the scalar loop: ties and NaNs keep the earlier position.
                var position = new Vector<int>(t);
                for (; f <= n - Vector<float>.Count; f += Vector<float>.Count)
                {
                    var candidate = new Vector<float>(row[f..]);
                    var current = new Vector<float>(best[f..]);
                    var greater = Vector.GreaterThan(candidate, current);
                    Vector.ConditionalSelect(greater, candidate, current).CopyTo(best[f..]);
                    Vector.ConditionalSelect(greater, position, new Vector<int>(bestT[f..])).CopyTo(bestT[f..]);
                }
            }
            for (; f < n; f++)
                if (CharCnnElement.Improves(row[f], best[f]))
                {
                    best[f] = row[f];
                    bestT[f] = t;
                }
        }
        TensorPrimitives.Add(best, bias.AsHostSpan(), best);
        if (p.Activation == CharCnnKernels.Tanh) TensorPrimitives.Tanh(best, best);
        else TensorPrimitives.Max(best, 0f, best);
    }

    /// <summary>The token's [P, n] conv gradient: zero except each filter's argmax row.</summary>
    public static void MaxPoolBackward(int token, CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, ArrayView<float> gradConv)
    {
        int n = p.Filters;
        var rows = gradConv.SubView((long)token * p.Positions * n, (long)p.Positions * n).AsHostSpan();
        var at = argmax.SubView((long)token * p.TotalFilters + p.ColumnOffset, n).AsHostSpan();
        var grad = gradPre.SubView((long)token * p.TotalFilters + p.ColumnOffset, n).AsHostSpan();
        rows.Clear();
        for (int f = 0; f < n; f++) rows[at[f] * n + f] = grad[f];
    }

    /// <summary>Per character c of the token: the window rows' slices for c summed over ascending j, then added on.</summary>
    public static void WindowsBackward(int token, CharConvParams p, ArrayView<float> gradWindows, ArrayView<float> gradEmbedded)
    {
        int d = p.EmbedDim, rowSize = p.Width * d;
        var rows = gradWindows.SubView((long)token * p.Positions * rowSize, (long)p.Positions * rowSize).AsHostSpan();
        var target = gradEmbedded.SubView((long)token * p.MaxChars * d, (long)p.MaxChars * d).AsHostSpan();
        Span<float> sum = d <= 256 ? stackalloc float[d] : new float[d];
        for (int c = 0; c < p.MaxChars; c++)
        {
            int first = CharCnnElement.FirstOffset(p, c), last = CharCnnElement.LastOffset(p, c);
            sum.Clear();
            for (int j = first; j <= last; j++) TensorPrimitives.Add(sum, rows.Slice((c - j) * rowSize + j * d, d), sum);
            var at = target.Slice(c * d, d);
            TensorPrimitives.Add(at, sum, at);
        }
    }

    /// <summary>
    /// <see cref="CharCnnKernels.ConvWeightGradientKernel"/> for filters [firstFilter, endFilter): each filter's w*d
    /// sums kept as one row of <paramref name="sums"/> ([n, w*d], this range's rows only), the tokens visited in order,
    /// each argmax window's w character rows multiplied by the gradient and added on (multiply, then add: the kernel's
    /// rounding), then the sums added into the [w*d, n] gradient. Bit-equal to the kernel.
    /// </summary>
    public static void ConvWeightGradient(CharConvParams p, ArrayView<int> charIds, ArrayView<float> charEmbed, ArrayView<int> argmax,
        ArrayView<float> gradPre, ArrayView<float> weightGrad, int firstFilter, int endFilter, float[] sums)
    {
        if (firstFilter >= endFilter) return;
        int d = p.EmbedDim, rowSize = p.Width * d, n = p.Filters;
        var ids = charIds.AsHostSpan();
        var table = charEmbed.AsHostSpan();
        var at = argmax.AsHostSpan();
        var grad = gradPre.AsHostSpan();
        var mine = sums.AsSpan(firstFilter * rowSize, (endFilter - firstFilter) * rowSize);
        mine.Clear();
        for (int token = 0; token < p.Tokens; token++)
        {
            int cell = token * p.TotalFilters + p.ColumnOffset, chars = token * p.MaxChars;
            for (int f = firstFilter; f < endFilter; f++)
            {
                float g = grad[cell + f];
                if (g == 0f) continue;
                int start = chars + at[cell + f];
                var sum = mine.Slice((f - firstFilter) * rowSize, rowSize);
                for (int j = 0; j < p.Width; j++) AddScaled(table.Slice(ids[start + j] * d, d), g, sum.Slice(j * d, d));
            }
        }
        var gradient = weightGrad.AsHostSpan();
        for (int r = 0; r < rowSize; r++)
            for (int f = firstFilter; f < endFilter; f++)
                gradient[r * n + f] += mine[(f - firstFilter) * rowSize + r];
    }

    /// <summary>
    /// <see cref="CharCnnKernels.ConvInputGradientKernel"/> for one token: for each filter in order, its weight row
    /// (<paramref name="transposedWeight"/> [n, w*d]) times its gradient added onto the w characters of its argmax
    /// window, in a [L, d] sum that is then added on. Each (character, e) gets the kernel's terms in the kernel's order.
    /// </summary>
    public static void ConvInputGradient(int token, CharConvParams p, ArrayView<int> argmax, ArrayView<float> gradPre, float[] transposedWeight,
        ArrayView<float> gradEmbedded)
    {
        int d = p.EmbedDim, rowSize = p.Width * d, length = p.MaxChars * d;
        var at = argmax.SubView((long)token * p.TotalFilters + p.ColumnOffset, p.Filters).AsHostSpan();
        var grad = gradPre.SubView((long)token * p.TotalFilters + p.ColumnOffset, p.Filters).AsHostSpan();
        Span<float> sum = length <= 4096 ? stackalloc float[length] : new float[length];
        sum.Clear();
        for (int f = 0; f < p.Filters; f++)
        {
            float g = grad[f];
            if (g == 0f) continue;
            AddScaled(transposedWeight.AsSpan(f * rowSize, rowSize), g, sum.Slice(at[f] * d, rowSize));
        }
        var target = gradEmbedded.SubView((long)token * length, length).AsHostSpan();
        TensorPrimitives.Add(target, sum, target);
    }

    /// <summary>
    /// <see cref="CharCnnKernels.HighwayForwardKernel"/> over one row of F features: the sigmoid through
    /// <see cref="TensorPrimitives"/>, the rest the kernel's arithmetic in its order. X and Y may be the same.
    /// </summary>
    public static void HighwayForward(int row, int features, HighwayViews v)
    {
        var gate = Row(v.Gate, row, features);
        var transform = Row(v.Transform, row, features);
        TensorPrimitives.Add(Row(v.CarryPre, row, features), v.CarryBias.AsHostSpan(), gate);
        TensorPrimitives.Sigmoid(gate, gate);
        TensorPrimitives.Add(Row(v.TransformPre, row, features), v.TransformBias.AsHostSpan(), transform);
        TensorPrimitives.Max(transform, 0f, transform);
        var x = Row(v.X, row, features);
        var y = Row(v.Y, row, features);
        int k = 0;
        if (Vector.IsHardwareAccelerated)
            for (; k <= features - Vector<float>.Count; k += Vector<float>.Count)
            {
                var g = new Vector<float>(gate[k..]);
                (g * new Vector<float>(transform[k..]) + (Vector<float>.One - g) * new Vector<float>(x[k..])).CopyTo(y[k..]);
            }
        for (; k < features; k++) y[k] = CharCnnElement.HighwayOutput(gate[k], transform[k], x[k]);
    }

    /// <summary><see cref="CharCnnKernels.HighwayBackwardKernel"/> over one row, the same arithmetic a vector at a time (bit-identical).</summary>
    public static void HighwayBackward(int row, int features, HighwayViews v, ArrayView<float> gradX)
    {
        ReadOnlySpan<float> gate = Row(v.Gate, row, features), transform = Row(v.Transform, row, features);
        Span<float> dy = Row(v.Y, row, features), x = Row(v.X, row, features), carry = Row(v.CarryPre, row, features);
        Span<float> transformPre = Row(v.TransformPre, row, features), dx = Row(gradX, row, features);
        int k = 0;
        if (Vector.IsHardwareAccelerated)
            for (; k <= features - Vector<float>.Count; k += Vector<float>.Count)
            {
                var d = new Vector<float>(dy[k..]);
                var g = new Vector<float>(gate[k..]);
                var t = new Vector<float>(transform[k..]);
                var dGate = d * (t - new Vector<float>(x[k..]));
                (dGate * g * (Vector<float>.One - g)).CopyTo(carry[k..]);
                Vector.ConditionalSelect(Vector.GreaterThan(t, Vector<float>.Zero), d * g, Vector<float>.Zero).CopyTo(transformPre[k..]);
                (d * (Vector<float>.One - g)).CopyTo(dx[k..]);
            }
        for (; k < features; k++)
        {
            var g = CharCnnElement.HighwayBackward(dy[k], gate[k], transform[k], x[k]);
            carry[k] = g.CarryPre;
            transformPre[k] = g.TransformPre;
            dx[k] = g.X;
        }
    }

    /// <summary>
    /// <see cref="CharCnnKernels.EmbeddingGradientKernel"/> for the table rows in [firstRow, endRow) (one worker per
    /// range): the tokens visited in order, their positions' gradients added a row (d floats) at a time, a token's
    /// padding positions summed first and added once, as the kernel does.
    /// </summary>
    public static void EmbeddingGradient(CharEmbeddingParams p, ArrayView<int> charIds, ArrayView<float> gradEmbedded, ArrayView<float> tableGrad,
        long firstRow, long endRow)
    {
        if (firstRow >= endRow) return;
        int d = p.EmbedDim;
        var ids = charIds.AsHostSpan();
        var gradient = gradEmbedded.AsHostSpan();
        var table = tableGrad.AsHostSpan();
        bool ownsPadding = p.PaddingId >= firstRow && p.PaddingId < endRow;
        Span<float> padding = d <= 256 ? stackalloc float[d] : new float[d];
        for (int token = 0; token < p.Tokens; token++)
        {
            bool padded = false;
            padding.Clear();
            for (int c = 0; c < p.MaxChars; c++)
            {
                int at = token * p.MaxChars + c, id = ids[at];
                var g = gradient.Slice(at * d, d);
                if (id == p.PaddingId)
                {
                    if (!ownsPadding) continue;
                    AddScaled(g, 1f, padding);
                    padded = true;
                }
                else if (id != 0 && id >= firstRow && id < endRow)
                {
                    AddScaled(g, 1f, table.Slice(id * d, d));
                }
            }
            if (padded)
            {
                AddScaled(padding, 1f, table.Slice(p.PaddingId * d, d));
            }
        }
    }

    static Span<float> Row(ArrayView<float> view, int row, int width) => view.SubView((long)row * width, width).AsHostSpan();

    /// <summary>
    /// sum[i] = x[i] * g + sum[i], multiply and add rounded apart (the kernels' `sum += g * x`; with g = 1 a plain
    /// add, x * 1 being x exactly), inline: the char CNN's backward calls it per (token, filter) or per character
    /// position on d = 8-16 floats, where a library call per span cost more than the arithmetic.
    /// </summary>
    static void AddScaled(ReadOnlySpan<float> x, float g, Span<float> sum)
    {
        if (sum.Length < x.Length) throw new ArgumentException("AddScaled: the sum is shorter than x.");
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(sum);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref xs, (nuint)i) * g + Vector256.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        if (Vector128.IsHardwareAccelerated)
            for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref xs, (nuint)i) * g + Vector128.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        for (; i < x.Length; i++) sum[i] = x[i] * g + sum[i];
    }
}
