using System.Numerics;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's softmax cross-entropy over many classes from few features, fused: the adaptive softmax's tail
/// clusters (40 and 10 features over 5,000 and 13,423 words in the default model). The GEMM route writes an
/// [M, C] block of logits larger than L2 and passes over it four times, each pass a GEMM or row kernel that
/// does almost no arithmetic per element (K = 10 or 40), the last (dW) reading it transposed one row, often one
/// page, per k. Here each block of <see cref="HostGemmBlocking.Rows"/> rows makes its logits in a scratch that
/// stays in L2, finishes its rows there (<see cref="SoftmaxHost.RowStats"/>'s steps), writes its gradient rows
/// once and makes its rows of dX from them at once; one more pass folds the gradient into dW, class by class.
/// </summary>
/// <remarks>
/// Every value is the GEMM route's bit for bit: the logits and dX are <see cref="HostGemm.RunOnThisThread"/> on
/// the operands the route's GEMMs pack (a row's sums do not depend on its tile), the row steps are RowStats'
/// own, and each element of dW is one fma chain over the rows in ascending order, restarted every KC rows and
/// then added to dW, as the GEMM sums it. Rows split between workers for the first pass and classes for the
/// second, so no result depends on the number of workers.
/// </remarks>
public static unsafe class NarrowSoftmaxHost
{
    /// <summary>The most features (K) the fused route takes: beyond it the logits are GEMM work worth the route's passes.</summary>
    public const int MaxFeatures = 64;

    /// <summary>
    /// The rows of one block, [r0, r0 + rows): logits x W^T into scratch, the rows' statistics as RowStats writes them
    /// (rowMax, rowSum, targetLogit; with <paramref name="training"/> also rowLse, rowLoss, and the gradient rows into
    /// <paramref name="gradient"/> [M, C]), then dX [rows, K] = gradient rows x W (written).
    /// </summary>
    /// <param name="packedWeightT">W^T [K, C] as <see cref="HostGemm.PackB"/> packs it.</param>
    /// <param name="packedWeight">W [C, K] as <see cref="HostGemm.PackB"/> packs it (read only when training).</param>
    /// <param name="scratch">This part's own [rows, C] for the logits.</param>
    public static void Rows(HostGemm gemm, int r0, int rows, SoftmaxRowParams p, int features, bool training, ArrayView<float> x,
        ArrayView<float> packedWeightT, ArrayView<float> packedWeight, ArrayView<int> targets, ArrayView<float> rowMax, ArrayView<float> rowSum,
        ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss, ArrayView<float> gradient, ArrayView<float> gradX,
        ArrayView<float> scratch)
    {
        int classes = p.Columns;
        var block = scratch.SubView(0, (long)rows * classes).AsHostSpan();
        fixed (float* px = x.AsHostSpan(), pwt = packedWeightT.AsHostSpan(), logits = block)
            gemm.RunOnThisThread(new GemmParams(rows, classes, features, 1f, 0f, 0, 1, features, features, classes, 0, 0, 0, 1),
                px + (long)r0 * features, pwt, packedB: true, logits);
        for (int i = 0; i < rows; i++)
        {
            int r = r0 + i, t = targets[r];
            int targetColumn = SoftmaxElement.IsTarget(t, classes) ? t : -1;
            var row = block.Slice(i * classes, classes);
            // RowStats' steps on a row without bias, the whole row one chunk (p.First = 1).
            float xt = targetColumn >= 0 ? row[targetColumn] : 0f;
            var (max, sum) = SoftmaxHost.Exponentiate(row);
            if (targetColumn >= 0) targetLogit[r] = xt;
            rowMax[r] = max;
            rowSum[r] = sum;
            if (!training) continue;
            float lse = SoftmaxElement.LogSumExp<MathFExpLog>(max, sum);
            rowLse[r] = lse;
            rowLoss[r] = SoftmaxElement.Loss(targetColumn >= 0, lse, xt);
            SoftmaxHost.WriteGradient(row, max, lse, targetColumn, p.LossScale, gradient.SubView((long)r * classes, classes).AsHostSpan());
        }
        if (!training) return;
        fixed (float* pg = gradient.AsHostSpan(), pw = packedWeight.AsHostSpan(), pdx = gradX.AsHostSpan())
            gemm.RunOnThisThread(new GemmParams(rows, features, classes, 1f, 0f, 0, 0, classes, features, features, 0, 0, 0, 1),
                pg + (long)r0 * classes, pw, packedB: true, pdx + (long)r0 * features);
    }

    /// <summary>
    /// dW [C, K] += gradient^T x for the classes [c0, c1): per element one fma chain over the rows in ascending
    /// order, restarted every <paramref name="rowBlock"/> rows (the GEMM's KC) and then added to dW, as the GEMM's
    /// dW = 1 * dLogits^T x + 1 * dW sums it. The chains run over classes in vectors, four rows per load of a sum.
    /// </summary>
    /// <param name="sums">[C, K] scratch, of which this range uses its own [c1 - c0, K].</param>
    public static void WeightGradient(int c0, int c1, int rows, int classes, int features, int rowBlock, ArrayView<float> gradient,
        ArrayView<float> x, ArrayView<float> gradWeight, ArrayView<float> sums)
    {
        int width = c1 - c0;
        if (width <= 0) return;
        var g = gradient.AsHostSpan();
        var input = x.AsHostSpan();
        var dw = gradWeight.AsHostSpan();
        int lanes = Vector<float>.Count, vectorWidth = width / lanes * lanes;
        fixed (float* acc = sums.SubView((long)c0 * features, (long)width * features).AsHostSpan(), pg = g, px = input)
        {
            for (int rb = 0; rb < rows; rb += rowBlock)
            {
                int rowEnd = Math.Min(rows, rb + rowBlock);
                new Span<float>(acc, width * features).Clear();
                int r = rb;
                for (; r + 4 <= rowEnd; r += 4)
                {
                    float* g0 = pg + (long)r * classes + c0, g1 = g0 + classes, g2 = g1 + classes, g3 = g2 + classes;
                    float* x0 = px + (long)r * features, x1 = x0 + features, x2 = x1 + features, x3 = x2 + features;
                    for (int k = 0; k < features; k++)
                    {
                        float* a = acc + k * width;
                        var b0 = new Vector<float>(x0[k]); var b1 = new Vector<float>(x1[k]);
                        var b2 = new Vector<float>(x2[k]); var b3 = new Vector<float>(x3[k]);
                        int c = 0;
                        for (; c < vectorWidth; c += lanes)
                        {
                            var s = Vector.Load(a + c);
                            s = Vector.FusedMultiplyAdd(b0, Vector.Load(g0 + c), s);
                            s = Vector.FusedMultiplyAdd(b1, Vector.Load(g1 + c), s);
                            s = Vector.FusedMultiplyAdd(b2, Vector.Load(g2 + c), s);
                            s = Vector.FusedMultiplyAdd(b3, Vector.Load(g3 + c), s);
                            s.Store(a + c);
                        }
                        for (; c < width; c++)
                        {
                            float s = MathF.FusedMultiplyAdd(x0[k], g0[c], a[c]);
                            s = MathF.FusedMultiplyAdd(x1[k], g1[c], s);
                            s = MathF.FusedMultiplyAdd(x2[k], g2[c], s);
                            a[c] = MathF.FusedMultiplyAdd(x3[k], g3[c], s);
                        }
                    }
                }
                for (; r < rowEnd; r++)
                {
                    float* g0 = pg + (long)r * classes + c0, x0 = px + (long)r * features;
                    for (int k = 0; k < features; k++)
                    {
                        float* a = acc + k * width;
                        var b0 = new Vector<float>(x0[k]);
                        int c = 0;
                        for (; c < vectorWidth; c += lanes) Vector.FusedMultiplyAdd(b0, Vector.Load(g0 + c), Vector.Load(a + c)).Store(a + c);
                        for (; c < width; c++) a[c] = MathF.FusedMultiplyAdd(x0[k], g0[c], a[c]);
                    }
                }
                // dW = fma(1, dW, 1 * sum): dW + sum.
                for (int c = 0; c < width; c++)
                {
                    var dst = dw.Slice((c0 + c) * features, features);
                    for (int k = 0; k < features; k++) dst[k] += acc[k * width + c];
                }
            }
        }
    }
}
