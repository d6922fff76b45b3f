using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Softmax cross-entropy over logits that a GEMM has just written, one row per token:
/// <list type="bullet">
/// <item>a row reduction (one thread group per row) that keeps a running max and sum of exponentials, so a
/// vocabulary can be covered in column chunks of bounded memory (log-sum-exp merged chunk by chunk); when
/// the chunk is the whole row it also finishes the row and writes the gradient in place in the same pass;</item>
/// <item>the elementwise gradient softmax - one-hot, scaled, for the chunked case (second pass);</item>
/// <item>log-probabilities written out (perplexity, adaptive softmax log_prob);</item>
/// <item>the sampled softmax's row kernel (true logit as a dot product, samples with log-Q correction and
/// accidental hits masked) and the kernels that fold its gradient into the touched weight rows.</item>
/// </list>
/// Logits are float32, reductions are in a fixed order (deterministic on every device); exp and log are
/// <see cref="KernelMath"/>'s (CUDA's approximate ex2/lg2 would not match the CPU tests). Rows whose
/// target is outside [0, Classes) are ignored: loss 0, gradient 0. The per-row and per-element maths is
/// <see cref="SoftmaxElement"/>; host execution runs the two row kernels as <see cref="SoftmaxHost"/>'s bodies.
/// </summary>
public sealed class SoftmaxKernels
{
    /// <summary>Largest group the row kernels use: 256 threads on GPUs, the device maximum on the CPU accelerator.</summary>
    const int MaxRowGroup = 256;

    readonly KernelRuntime runtime;
    readonly int rowGroup;
    readonly Action<AcceleratorStream, KernelConfig, SoftmaxRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> rowStats;
    readonly Action<AcceleratorStream, Index1D, SoftmaxRowParams, ArrayView<int>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> finishRows;
    readonly Action<AcceleratorStream, Index1D, SoftmaxRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> gradient;
    readonly Action<AcceleratorStream, Index1D, LogSoftmaxParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> logSoftmax;
    readonly Action<AcceleratorStream, Index1D, CopyBlockParams, ArrayView<float>, ArrayView<float>> copyBlock;
    readonly Action<AcceleratorStream, KernelConfig, SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> sampledRows;
    readonly Action<AcceleratorStream, Index1D, SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> addTrueRows;
    readonly Action<AcceleratorStream, Index1D, SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>> touchedWeightGrad;
    readonly Action<AcceleratorStream, Index1D, SampledRowParams, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>> touchedBiasGrad;

    public SoftmaxKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        rowStats = acc.LoadKernel<SoftmaxRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RowStatsKernel);
        finishRows = acc.LoadAutoGroupedKernel<Index1D, SoftmaxRowParams, ArrayView<int>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(FinishRowsKernel);
        gradient = acc.LoadAutoGroupedKernel<Index1D, SoftmaxRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(GradientKernel);
        logSoftmax = acc.LoadAutoGroupedKernel<Index1D, LogSoftmaxParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LogSoftmaxKernel);
        copyBlock = acc.LoadAutoGroupedKernel<Index1D, CopyBlockParams, ArrayView<float>, ArrayView<float>>(CopyBlockKernel);
        sampledRows = acc.LoadKernel<SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SampledRowsKernel);
        addTrueRows = acc.LoadAutoGroupedKernel<Index1D, SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(AddTrueRowsKernel);
        touchedWeightGrad = acc.LoadAutoGroupedKernel<Index1D, SampledRowParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>>(TouchedWeightGradientKernel);
        touchedBiasGrad = acc.LoadAutoGroupedKernel<Index1D, SampledRowParams, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>>(TouchedBiasGradientKernel);
        rowGroup = KernelRuntime.PowerOfTwoGroup(MaxRowGroup, runtime.MaxGroupSizeOf(rowStats, sampledRows));
    }

    /// <summary>Threads per row in the row kernels here: the largest power of two up to 256 the accelerator allows.</summary>
    public int RowGroup => rowGroup;

    // ---------------------------------------------------------------- full softmax, chunked

    /// <summary>
    /// Folds one column chunk of every row into the running (max, sum of exp) and picks out the target's
    /// logit when it falls in the chunk. With <see cref="SoftmaxRowParams.WriteGradient"/> (the chunk is the
    /// whole row) it also writes rowLse, rowLoss and the gradient in place, in the same pass.
    /// </summary>
    /// <param name="logits">[Rows, Ld]: columns [0, Columns) of each row are this chunk (bias not yet added).</param>
    /// <param name="bias">[Classes] when HasBias (column j uses bias[ColumnOffset + j]); otherwise any 1-element view.</param>
    /// <param name="targets">[Rows] class ids; outside [0, Classes) means an ignored row.</param>
    /// <param name="rowMax">[Rows] running max (written on the first chunk, merged after).</param>
    /// <param name="rowSum">[Rows] running sum of exp(logit - rowMax).</param>
    /// <param name="targetLogit">[Rows] the target's logit, written by the chunk that holds it.</param>
    /// <param name="rowLse">[Rows] log-sum-exp (written only with WriteGradient).</param>
    /// <param name="rowLoss">[Rows] -log p(target), 0 for ignored rows (written only with WriteGradient).</param>
    public void RowStats(AcceleratorStream s, in SoftmaxRowParams p, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> targets,
        ArrayView<float> rowMax, ArrayView<float> rowSum, ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss)
    {
        if (p.Rows == 0) return;
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            var q = p;
            KernelRuntime.HostRows(p.Rows, (long)p.Rows * p.Columns, r => SoftmaxHost.RowStats(r, q, logits, bias, targets, rowMax, rowSum, targetLogit, rowLse, rowLoss));
            return;
        }
        var config = new KernelConfig(new Index1D(p.Rows), new Index1D(rowGroup), SharedMemoryConfig.RequestDynamic<float>(2 * rowGroup + 1));
        rowStats(s, config, p, logits, bias, targets, rowMax, rowSum, targetLogit, rowLse, rowLoss);
    }

    /// <summary>After the last chunk: rowLse = max + log(sum), rowLoss = rowLse - targetLogit (0 for ignored rows).</summary>
    public void FinishRows(AcceleratorStream s, in SoftmaxRowParams p, ArrayView<int> targets, ArrayView<float> rowMax, ArrayView<float> rowSum,
        ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss)
    {
        var q = p;
        runtime.For(s, p.Rows, (st, i) => finishRows(st, i, q, targets, rowMax, rowSum, targetLogit, rowLse, rowLoss),
            i => FinishRowsKernel(i, q, targets, rowMax, rowSum, targetLogit, rowLse, rowLoss));
    }

    /// <summary>
    /// In place over a chunk [Rows, Columns] (leading dimension Ld) of logits without bias:
    /// logits = LossScale * (softmax - onehot(target)), 0 on ignored rows. Needs rowLse from <see cref="FinishRows"/>.
    /// </summary>
    public void Gradient(AcceleratorStream s, in SoftmaxRowParams p, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> targets, ArrayView<float> rowLse)
    {
        var q = p;
        runtime.For(s, (long)p.Rows * p.Columns, (st, i) => gradient(st, i, q, logits, bias, targets, rowLse),
            i => GradientKernel(i, q, logits, bias, targets, rowLse));
    }

    /// <summary>
    /// In place over a block [Rows, Columns] (leading dimension Ld) of logits without bias:
    /// block = logits + bias - rowLse[r] (+ addend[r * AddendStride + AddendOffset] when HasAddend).
    /// </summary>
    public void LogSoftmax(AcceleratorStream s, in LogSoftmaxParams p, ArrayView<float> block, ArrayView<float> bias, ArrayView<float> rowLse, ArrayView<float> addend)
    {
        var q = p;
        runtime.For(s, (long)p.Rows * p.Columns, (st, i) => logSoftmax(st, i, q, block, bias, rowLse, addend),
            i => LogSoftmaxKernel(i, q, block, bias, rowLse, addend));
    }

    /// <summary>dst[r * DstLd + j] = src[r * SrcLd + j] for a [Rows, Columns] block.</summary>
    public void CopyBlock(AcceleratorStream s, in CopyBlockParams p, ArrayView<float> src, ArrayView<float> dst)
    {
        var q = p;
        runtime.For(s, (long)p.Rows * p.Columns, (st, i) => copyBlock(st, i, q, src, dst), i => CopyBlockKernel(i, q, src, dst));
    }

    // ---------------------------------------------------------------- few features, many classes: host execution only

    /// <summary>
    /// Host execution's fused route (<see cref="NarrowSoftmaxHost"/>) for x [Rows, K] against W [Columns, K], K at most
    /// <see cref="NarrowSoftmaxHost.MaxFeatures"/>, no bias, every class in one chunk (p.ColumnOffset 0, p.Ld = p.Columns):
    /// what <see cref="RowStats"/> writes for the chunk x W^T (with p.WriteGradient also rowLse, rowLoss and the
    /// gradient rows, into <paramref name="gradient"/> [Rows, Columns]), and with p.WriteGradient dX [Rows, K] =
    /// gradient x W (written). GPUs take the GEMM route, whose logits are their tensor cores' work.
    /// </summary>
    /// <param name="packedWeightT">W^T [K, Columns] packed by <paramref name="gemm"/>'s PackB.</param>
    /// <param name="packedWeight">W [Columns, K] packed by <paramref name="gemm"/>'s PackB (read only with p.WriteGradient).</param>
    /// <param name="scratch">At least <see cref="NarrowScratchLength"/>(Rows, Columns) floats: each part's logits.</param>
    public void NarrowRows(AcceleratorStream s, HostGemm gemm, in SoftmaxRowParams p, int features, ArrayView<float> x,
        ArrayView<float> packedWeightT, ArrayView<float> packedWeight, ArrayView<int> targets, ArrayView<float> rowMax, ArrayView<float> rowSum,
        ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss, ArrayView<float> gradient, ArrayView<float> gradX,
        ArrayView<float> scratch)
    {
        CheckNarrow(nameof(NarrowRows), p.Rows, p.Columns, features, x, p.WriteGradient != 0 ? gradient : null);
        if (p.HasBias != 0 || p.ColumnOffset != 0 || p.Ld != p.Columns || p.Classes != p.Columns || p.First == 0)
            throw new ArgumentException("NarrowRows: the fused route covers every class in one chunk without bias.");
        Check(scratch.Length >= NarrowScratchLength(p.Rows, p.Columns),
            $"NarrowRows: the scratch holds {scratch.Length} floats; [{p.Rows}, {p.Columns}] needs {NarrowScratchLength(p.Rows, p.Columns)}.");
        if (p.Rows == 0) return;
        runtime.CountLaunch();
        var q = p;
        bool training = p.WriteGradient != 0;
        long perPart = (long)NarrowRowBlock * p.Columns;
        KernelRuntime.HostRowRanges(NarrowBlocks(p.Rows), (long)p.Rows * p.Columns, (part, first, end) =>
        {
            var own = scratch.SubView(part * perPart, perPart);
            for (int b = first; b < end; b++)
                NarrowSoftmaxHost.Rows(gemm, b * NarrowRowBlock, Math.Min(NarrowRowBlock, q.Rows - b * NarrowRowBlock), q, features, training, x,
                    packedWeightT, packedWeight, targets, rowMax, rowSum, targetLogit, rowLse, rowLoss, gradient, gradX, own);
        });
    }

    /// <summary>Rows per block of the fused route: the host GEMM's tile rows, so each block's logits are whole tiles.</summary>
    const int NarrowRowBlock = HostGemmBlocking.Rows;

    static int NarrowBlocks(int rows) => (rows + NarrowRowBlock - 1) / NarrowRowBlock;

    /// <summary>Floats of scratch <see cref="NarrowRows"/> needs for [rows, classes]: one row block of logits per part.</summary>
    public static long NarrowScratchLength(int rows, int classes) =>
        (long)KernelRuntime.HostRowParts(NarrowBlocks(rows), (long)rows * classes) * NarrowRowBlock * classes;

    /// <summary>
    /// Host execution's dW [classes, K] += gradient^T x for <see cref="NarrowRows"/>' gradient [rows, classes], summed
    /// as the GEMM sums it with KC = <paramref name="rowBlock"/>; the workers split the classes.
    /// </summary>
    /// <param name="sums">[classes, K] scratch for the partial sums.</param>
    public void NarrowWeightGradient(AcceleratorStream s, int rows, int classes, int features, int rowBlock, ArrayView<float> gradient,
        ArrayView<float> x, ArrayView<float> gradWeight, ArrayView<float> sums)
    {
        CheckNarrow(nameof(NarrowWeightGradient), rows, classes, features, x, gradient);
        Check(gradWeight.Length == (long)classes * features, $"NarrowWeightGradient: dW has {gradWeight.Length} elements, expected [{classes}, {features}].");
        Check(sums.Length >= (long)classes * features, $"NarrowWeightGradient: the sums hold {sums.Length} floats, [{classes}, {features}] needs {(long)classes * features}.");
        if (rows == 0) return;
        runtime.CountLaunch();
        // Ranges of whole 64-class chunks: long contiguous reads of each gradient row, a sum block that stays in L2.
        KernelRuntime.HostRowRanges((classes + 63) / 64, (long)rows * classes, (_, first, end) =>
            NarrowSoftmaxHost.WeightGradient(first * 64, Math.Min(classes, end * 64), rows, classes, features, rowBlock, gradient, x, gradWeight, sums));
    }

    void CheckNarrow(string what, int rows, int classes, int features, ArrayView<float> x, ArrayView<float>? gradient)
    {
        if (!runtime.RunOnHost) throw new InvalidOperationException($"{what} is host execution's fused softmax route; devices take the GEMM route.");
        Check(features >= 1 && features <= NarrowSoftmaxHost.MaxFeatures, $"{what}: {features} features, the fused route takes 1 to {NarrowSoftmaxHost.MaxFeatures}.");
        Check(x.Length == (long)rows * features, $"{what}: x has {x.Length} elements, expected [{rows}, {features}].");
        if (gradient is { } g) Check(g.Length >= (long)rows * classes, $"{what}: the gradient holds {g.Length} elements, [{rows}, {classes}] needs {(long)rows * classes}.");
    }

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    // ---------------------------------------------------------------- sampled softmax

    /// <summary>
    /// One row of the sampled softmax: the true logit h_r . W[t] + b[t] - logQ(t), the sampled logits
    /// (already h W_s^T from a GEMM) + b_s - logQ(s) with the accidental hit masked, their log-sum-exp,
    /// the loss, and (WriteGradient) the gradients: in place over the sampled logits and trueGrad[r].
    /// </summary>
    /// <param name="logits">[Rows, Samples] h W_s^T, replaced by LossScale * p(sample) (0 where masked).</param>
    /// <param name="hidden">[Rows, Hidden].</param>
    /// <param name="touchedW">[Touched, Hidden] gathered weight rows: samples first (in order), then other targets.</param>
    /// <param name="touchedB">[Touched] gathered biases, same order.</param>
    /// <param name="rowTouched">[Rows] index of the row's target in the touched rows; -1 for an ignored row.</param>
    /// <param name="hit">[Rows] position of the row's target among the samples (accidental hit), or -1.</param>
    /// <param name="sampleLogQ">[Samples] log of each sample's expected count.</param>
    /// <param name="trueLogQ">[Rows] log of the target's expected count.</param>
    /// <param name="rowLoss">[Rows] the sampled cross-entropy, 0 for ignored rows.</param>
    /// <param name="trueGrad">[Rows] LossScale * (p(true) - 1), 0 for ignored rows.</param>
    public void SampledRows(AcceleratorStream s, in SampledRowParams p, ArrayView<float> logits, ArrayView<float> hidden, ArrayView<float> touchedW,
        ArrayView<float> touchedB, ArrayView<int> rowTouched, ArrayView<int> hit, ArrayView<float> sampleLogQ, ArrayView<float> trueLogQ,
        ArrayView<float> rowLoss, ArrayView<float> trueGrad)
    {
        if (p.Rows == 0) return;
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            var q = p;
            KernelRuntime.HostRows(p.Rows, (long)p.Rows * (p.Samples + p.Hidden), r => SoftmaxHost.SampledRows(r, q, logits, hidden, touchedW, touchedB, rowTouched, hit, sampleLogQ, trueLogQ, rowLoss, trueGrad));
            return;
        }
        var config = new KernelConfig(new Index1D(p.Rows), new Index1D(rowGroup), SharedMemoryConfig.RequestDynamic<float>(2 * rowGroup));
        sampledRows(s, config, p, logits, hidden, touchedW, touchedB, rowTouched, hit, sampleLogQ, trueLogQ, rowLoss, trueGrad);
    }

    /// <summary>gradHidden[r, :] += trueGrad[r] * touchedW[rowTouched[r], :] (the true class's share of dL/dh). gradHidden [Rows, Hidden].</summary>
    public void AddTrueRows(AcceleratorStream s, in SampledRowParams p, ArrayView<float> trueGrad, ArrayView<float> touchedW, ArrayView<int> rowTouched, ArrayView<float> gradHidden)
    {
        var q = p;
        runtime.For(s, (long)p.Rows * p.Hidden, (st, i) => addTrueRows(st, i, q, trueGrad, touchedW, rowTouched, gradHidden),
            i => AddTrueRowsKernel(i, q, trueGrad, touchedW, rowTouched, gradHidden));
    }

    /// <summary>
    /// gradTouched [Touched, Hidden]: rows below Samples already hold dL_s^T h (from a GEMM); every row u gets
    /// + sum over the rows r whose target is touched row u (rowList[offsets[u] .. offsets[u+1])) of trueGrad[r] * h[r, :].
    /// A fixed order per element: deterministic, no atomics.
    /// </summary>
    public void TouchedWeightGradient(AcceleratorStream s, in SampledRowParams p, ArrayView<float> trueGrad, ArrayView<float> hidden,
        ArrayView<int> offsets, ArrayView<int> rowList, ArrayView<float> gradTouched)
    {
        var q = p;
        runtime.For(s, (long)p.Touched * p.Hidden, (st, i) => touchedWeightGrad(st, i, q, trueGrad, hidden, offsets, rowList, gradTouched),
            i => TouchedWeightGradientKernel(i, q, trueGrad, hidden, offsets, rowList, gradTouched));
    }

    /// <summary>
    /// gradTouchedB [Touched]: rows below Samples already hold the column sums of the sampled gradient (a GEMM
    /// with a row of ones); every row u gets + the trueGrad of the rows whose target it is, in a fixed order.
    /// </summary>
    public void TouchedBiasGradient(AcceleratorStream s, in SampledRowParams p, ArrayView<float> trueGrad,
        ArrayView<int> offsets, ArrayView<int> rowList, ArrayView<float> gradTouchedB)
    {
        var q = p;
        runtime.For(s, p.Touched, (st, i) => touchedBiasGrad(st, i, q, trueGrad, offsets, rowList, gradTouchedB),
            i => TouchedBiasGradientKernel(i, q, trueGrad, offsets, rowList, gradTouchedB));
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>
    /// Tree reduction of (max, sum) pairs over the group in shared memory [2 * group]: fixed order. Leaves the
    /// result in shared[0] (max) and shared[group] (sum) for every thread to read before the next barrier.
    /// </summary>
    static void GroupMaxSum(ArrayView<float> shared, int tid, int group, float max, float sum)
    {
        shared[tid] = max;
        shared[group + tid] = sum;
        Group.Barrier();
        for (int stride = group / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride)
            {
                float mergedMax = shared[tid + stride], mergedSum = shared[group + tid + stride];
                SoftmaxElement.Merge<KernelExpLog>(shared[tid], shared[group + tid], ref mergedMax, ref mergedSum);
                shared[tid] = mergedMax;
                shared[group + tid] = mergedSum;
            }
            Group.Barrier();
        }
    }

    /// <summary>Tree sum over the group in shared[0 .. group): fixed order; result in shared[0].</summary>
    static void GroupSum(ArrayView<float> shared, int tid, int group, float value)
    {
        shared[tid] = value;
        Group.Barrier();
        for (int stride = group / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride) shared[tid] += shared[tid + stride];
            Group.Barrier();
        }
    }

    /// <summary>One group per row; shared memory: [2 * group] reduction pairs + 1 slot for the target's logit.</summary>
    public static void RowStatsKernel(SoftmaxRowParams p, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> targets,
        ArrayView<float> rowMax, ArrayView<float> rowSum, ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss)
    {
        int r = Grid.IdxX, tid = Group.IdxX, group = Group.DimX;
        var shared = SharedMemory.GetDynamic<float>();
        int t = targets[r];
        bool valid = SoftmaxElement.IsTarget(t, p.Classes);
        int targetColumn = valid ? t - p.ColumnOffset : -1;
        long rowStart = (long)r * p.Ld;
        float max = float.MinValue, sum = 0f;
        for (int j = tid; j < p.Columns; j += group)
        {
            float x = logits[rowStart + j] + (p.HasBias != 0 ? bias[p.ColumnOffset + j] : 0f);
            SoftmaxElement.Accumulate(x, ref max, ref sum);
            if (j == targetColumn)
            {
                targetLogit[r] = x;
                shared[2 * group] = x;
            }
        }
        GroupMaxSum(shared, tid, group, max, sum);
        max = shared[0];
        sum = shared[group];
        if (p.First == 0) SoftmaxElement.Merge<KernelExpLog>(rowMax[r], rowSum[r], ref max, ref sum);
        if (p.WriteGradient == 0)
        {
            if (tid == 0)
            {
                rowMax[r] = max;
                rowSum[r] = sum;
            }
            return;
        }
        float lse = SoftmaxElement.LogSumExp<KernelExpLog>(max, sum);
        bool inChunk = targetColumn >= 0 && targetColumn < p.Columns;
        if (tid == 0)
        {
            rowMax[r] = max;
            rowSum[r] = sum;
            rowLse[r] = lse;
            rowLoss[r] = SoftmaxElement.Loss(inChunk, lse, shared[2 * group]);
        }
        float scale = inChunk ? p.LossScale : 0f;
        for (int j = tid; j < p.Columns; j += group)
        {
            long at = rowStart + j;
            float x = logits[at] + (p.HasBias != 0 ? bias[p.ColumnOffset + j] : 0f);
            logits[at] = SoftmaxElement.Gradient<KernelExpLog>(scale, x, lse, j == targetColumn);
        }
    }

    public static void FinishRowsKernel(Index1D r, SoftmaxRowParams p, ArrayView<int> targets, ArrayView<float> rowMax, ArrayView<float> rowSum,
        ArrayView<float> targetLogit, ArrayView<float> rowLse, ArrayView<float> rowLoss)
    {
        float lse = SoftmaxElement.LogSumExp<KernelExpLog>(rowMax[r], rowSum[r]);
        rowLse[r] = lse;
        rowLoss[r] = SoftmaxElement.Loss(SoftmaxElement.IsTarget(targets[r], p.Classes), lse, targetLogit[r]);
    }

    public static void GradientKernel(Index1D i, SoftmaxRowParams p, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> targets, ArrayView<float> rowLse)
    {
        int r = i / p.Columns, j = i - r * p.Columns;
        int t = targets[r];
        long at = (long)r * p.Ld + j;
        if (!SoftmaxElement.IsTarget(t, p.Classes))
        {
            logits[at] = 0f;
            return;
        }
        float x = logits[at] + (p.HasBias != 0 ? bias[p.ColumnOffset + j] : 0f);
        logits[at] = SoftmaxElement.Gradient<KernelExpLog>(p.LossScale, x, rowLse[r], p.ColumnOffset + j == t);
    }

    public static void LogSoftmaxKernel(Index1D i, LogSoftmaxParams p, ArrayView<float> block, ArrayView<float> bias, ArrayView<float> rowLse, ArrayView<float> addend)
    {
        int r = i / p.Columns, j = i - r * p.Columns;
        long at = (long)r * p.Ld + j;
        float x = block[at] + (p.HasBias != 0 ? bias[p.ColumnOffset + j] : 0f) - rowLse[r];
        if (p.HasAddend != 0) x += addend[(long)r * p.AddendStride + p.AddendOffset];
        block[at] = x;
    }

    public static void CopyBlockKernel(Index1D i, CopyBlockParams p, ArrayView<float> src, ArrayView<float> dst)
    {
        int r = i / p.Columns, j = i - r * p.Columns;
        dst[(long)r * p.DstLd + j] = src[(long)r * p.SrcLd + j];
    }

    /// <summary>One group per row; shared memory [2 * group] for the dot product and the (max, sum) reduction.</summary>
    public static void SampledRowsKernel(SampledRowParams p, ArrayView<float> logits, ArrayView<float> hidden, ArrayView<float> touchedW,
        ArrayView<float> touchedB, ArrayView<int> rowTouched, ArrayView<int> hit, ArrayView<float> sampleLogQ, ArrayView<float> trueLogQ,
        ArrayView<float> rowLoss, ArrayView<float> trueGrad)
    {
        int r = Grid.IdxX, tid = Group.IdxX, group = Group.DimX;
        var shared = SharedMemory.GetDynamic<float>();
        int u = rowTouched[r];
        bool valid = u >= 0;
        float dot = 0f;
        if (valid)
            for (int k = tid; k < p.Hidden; k += group)
                dot += hidden[(long)r * p.Hidden + k] * touchedW[(long)u * p.Hidden + k];
        GroupSum(shared, tid, group, dot);
        float trueLogit = valid ? SoftmaxElement.SampledLogit(shared[0], touchedB[u], trueLogQ[r]) : 0f;
        Group.Barrier();

        int masked = hit[r];
        long rowStart = (long)r * p.Samples;
        float max = float.MinValue, sum = 0f;
        if (tid == 0 && valid) SoftmaxElement.Accumulate(trueLogit, ref max, ref sum);
        for (int j = tid; j < p.Samples; j += group)
            if (j != masked) SoftmaxElement.Accumulate(SoftmaxElement.SampledLogit(logits[rowStart + j], touchedB[j], sampleLogQ[j]), ref max, ref sum);
        GroupMaxSum(shared, tid, group, max, sum);
        float lse = SoftmaxElement.LogSumExp<KernelExpLog>(shared[0], shared[group]);
        float scale = valid ? p.LossScale : 0f;
        if (tid == 0)
        {
            rowLoss[r] = SoftmaxElement.Loss(valid, lse, trueLogit);
            trueGrad[r] = valid ? SoftmaxElement.Gradient<KernelExpLog>(scale, trueLogit, lse, true) : 0f;
        }
        if (p.WriteGradient == 0) return;
        for (int j = tid; j < p.Samples; j += group)
        {
            long at = rowStart + j;
            logits[at] = valid && j != masked
                ? SoftmaxElement.Gradient<KernelExpLog>(scale, SoftmaxElement.SampledLogit(logits[at], touchedB[j], sampleLogQ[j]), lse, false) : 0f;
        }
    }

    public static void AddTrueRowsKernel(Index1D i, SampledRowParams p, ArrayView<float> trueGrad, ArrayView<float> touchedW, ArrayView<int> rowTouched, ArrayView<float> gradHidden)
    {
        int r = i / p.Hidden, k = i - r * p.Hidden;
        int u = rowTouched[r];
        if (u >= 0) gradHidden[i] += trueGrad[r] * touchedW[(long)u * p.Hidden + k];
    }

    public static void TouchedWeightGradientKernel(Index1D i, SampledRowParams p, ArrayView<float> trueGrad, ArrayView<float> hidden,
        ArrayView<int> offsets, ArrayView<int> rowList, ArrayView<float> gradTouched)
    {
        int u = i / p.Hidden, k = i - u * p.Hidden;
        float total = u < p.Samples ? gradTouched[i] : 0f;
        int end = offsets[u + 1];
        for (int q = offsets[u]; q < end; q++)
        {
            int r = rowList[q];
            total += trueGrad[r] * hidden[(long)r * p.Hidden + k];
        }
        gradTouched[i] = total;
    }

    public static void TouchedBiasGradientKernel(Index1D u, SampledRowParams p, ArrayView<float> trueGrad,
        ArrayView<int> offsets, ArrayView<int> rowList, ArrayView<float> gradTouchedB)
    {
        float total = u < p.Samples ? gradTouchedB[u] : 0f;
        int end = offsets[u + 1];
        for (int q = offsets[u]; q < end; q++) total += trueGrad[rowList[q]];
        gradTouchedB[u] = total;
    }
}

/// <summary>
/// A chunk of softmax rows: Rows x Columns logits at leading dimension Ld; column j is class ColumnOffset + j
/// of Classes in all; HasBias adds bias[ColumnOffset + j]; First starts the running stats with this chunk;
/// WriteGradient (whole row in one chunk) finishes the row and writes LossScale * (softmax - onehot) in place.
/// </summary>
public readonly record struct SoftmaxRowParams(int Rows, int Columns, int Ld, int ColumnOffset, int Classes,
    int HasBias, int First, int WriteGradient, float LossScale);

/// <summary>A block of log-softmax output: Rows x Columns at leading dimension Ld, bias from ColumnOffset, optional per-row addend.</summary>
public readonly record struct LogSoftmaxParams(int Rows, int Columns, int Ld, int ColumnOffset, int HasBias,
    int HasAddend, int AddendStride, int AddendOffset);

public readonly record struct CopyBlockParams(int Rows, int Columns, int SrcLd, int DstLd);

/// <summary>
/// Sampled softmax sizes: Rows tokens, Samples negatives, Hidden = P, Touched = unique weight rows gathered
/// (samples first, then the targets that are not samples); WriteGradient and LossScale as for the full softmax.
/// </summary>
public readonly record struct SampledRowParams(int Rows, int Samples, int Hidden, int Touched, int WriteGradient, float LossScale);
