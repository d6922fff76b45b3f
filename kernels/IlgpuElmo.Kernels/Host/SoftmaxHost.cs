using System.Numerics.Tensors;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="SoftmaxKernels"/>' two row kernels (one thread group per row on a
/// device, so they cannot run as plain loops), one row per call, each named after the kernel it stands for.
/// The maths is <see cref="SoftmaxElement"/>'s with MathF's exp and log; the row's sums run in index order
/// instead of a group's tree, and the full-softmax row is vectorised (<see cref="TensorPrimitives"/>' exp),
/// so both differ from the kernels by a few ulps (HostParityTests states the bounds). Fixed-order sums:
/// every run gives the same bits.
/// </summary>
static class SoftmaxHost
{
    /// <summary>
    /// <see cref="SoftmaxKernels.RowStatsKernel"/> for row r, vectorised: the biased logits go to a scratch row,
    /// then max, exp(x - max) and their sum, and the gradient from those exponentials rescaled to exp(x - lse).
    /// </summary>
    public static void RowStats(int r, SoftmaxRowParams p, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> targets,
        ArrayView<float> rowMax, ArrayView<float> rowSum, ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss)
    {
        int t = targets[r];
        int targetColumn = SoftmaxElement.IsTarget(t, p.Classes) ? t - p.ColumnOffset : -1;
        bool inChunk = targetColumn >= 0 && targetColumn < p.Columns;
        var row = logits.SubView((long)r * p.Ld, p.Columns).AsHostSpan();
        if (rowScratch is null || rowScratch.Length < p.Columns) rowScratch = new float[p.Columns];
        var x = rowScratch.AsSpan(0, p.Columns);
        if (p.HasBias != 0) TensorPrimitives.Add(row, bias.SubView(p.ColumnOffset, p.Columns).AsHostSpan(), x);
        else row.CopyTo(x);
        float xt = inChunk ? x[targetColumn] : 0f;
        var (max, sum) = Exponentiate(x);
        float chunkMax = max;
        if (inChunk) targetLogit[r] = xt;
        if (p.First == 0) SoftmaxElement.Merge<MathFExpLog>(rowMax[r], rowSum[r], ref max, ref sum);
        rowMax[r] = max;
        rowSum[r] = sum;
        if (p.WriteGradient == 0) return;
        float lse = SoftmaxElement.LogSumExp<MathFExpLog>(max, sum);
        rowLse[r] = lse;
        rowLoss[r] = SoftmaxElement.Loss(inChunk, lse, xt);
        WriteGradient(x, chunkMax, lse, inChunk ? targetColumn : -1, p.LossScale, row);
    }

    /// <summary>The row's max, then x = exp(x - max) in place, and the sum of those: the row steps RowStats and <see cref="NarrowSoftmaxHost"/> share.</summary>
    internal static (float Max, float Sum) Exponentiate(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        return (max, TensorPrimitives.Sum(x));
    }

    /// <summary>
    /// The vector form of SoftmaxElement.Gradient: <paramref name="exps"/> holds exp(logit - max), so exp(logit - lse) is
    /// exps * exp(max - lse), times the loss scale; the target's one comes off afterwards (a row without a target
    /// in these columns, targetColumn -1, gets zeros).
    /// </summary>
    internal static void WriteGradient(ReadOnlySpan<float> exps, float max, float lse, int targetColumn, float lossScale, Span<float> gradient)
    {
        float scale = targetColumn >= 0 ? lossScale : 0f;
        TensorPrimitives.Multiply(exps, scale * MathF.Exp(max - lse), gradient);
        if (targetColumn >= 0) gradient[targetColumn] -= scale;
    }

    [ThreadStatic] static float[]? rowScratch;

    /// <summary><see cref="SoftmaxKernels.SampledRowsKernel"/> for row r: the dot product and the sums in index order.</summary>
    public static void SampledRows(int r, SampledRowParams p, ArrayView<float> logits, ArrayView<float> hidden, ArrayView<float> touchedW,
        ArrayView<float> touchedB, ArrayView<int> rowTouched, ArrayView<int> hit, ArrayView<float> sampleLogQ, ArrayView<float> trueLogQ,
        ArrayView<float> rowLoss, ArrayView<float> trueGrad)
    {
        int u = rowTouched[r];
        bool valid = u >= 0;
        float trueLogit = 0f, max = float.MinValue, sum = 0f;
        if (valid)
        {
            float dot = 0f;
            for (int k = 0; k < p.Hidden; k++) dot += hidden[(long)r * p.Hidden + k] * touchedW[(long)u * p.Hidden + k];
            trueLogit = SoftmaxElement.SampledLogit(dot, touchedB[u], trueLogQ[r]);
            SoftmaxElement.Accumulate(trueLogit, ref max, ref sum);
        }
        int masked = hit[r];
        long rowStart = (long)r * p.Samples;
        for (int j = 0; j < p.Samples; j++)
            if (j != masked) SoftmaxElement.Accumulate(SoftmaxElement.SampledLogit(logits[rowStart + j], touchedB[j], sampleLogQ[j]), ref max, ref sum);
        float lse = SoftmaxElement.LogSumExp<MathFExpLog>(max, sum);
        float scale = valid ? p.LossScale : 0f;
        rowLoss[r] = SoftmaxElement.Loss(valid, lse, trueLogit);
        trueGrad[r] = valid ? SoftmaxElement.Gradient<MathFExpLog>(scale, trueLogit, lse, true) : 0f;
        if (p.WriteGradient == 0) return;
        for (int j = 0; j < p.Samples; j++)
        {
            long at = rowStart + j;
            logits[at] = valid && j != masked
                ? SoftmaxElement.Gradient<MathFExpLog>(scale, SoftmaxElement.SampledLogit(logits[at], touchedB[j], sampleLogQ[j]), lse, false) : 0f;
        }
    }
}
