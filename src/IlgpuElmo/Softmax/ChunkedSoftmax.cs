using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Softmax;

/// <summary>
/// Exact softmax cross-entropy of [M, K] inputs against a [C, K] weight (one row per class) and optional
/// bias [C]: logits = x W^T + b, loss_r = logsumexp(logits_r) - logits_r[target_r]. The logits are made by
/// the GEMM in column chunks of at most <c>maxChunkElements</c> floats, folded into a running row max and
/// sum, so memory stays bounded for any C. When one chunk covers every class the row kernel finishes the
/// rows and writes the gradient in the same pass; otherwise a second pass recomputes each chunk's logits
/// (one more GEMM) to write its gradient. The full softmax head, the adaptive head's shortlist and each of
/// its clusters, and the sampled head's evaluation path are all this one routine. In host execution, few
/// features (the adaptive tails) over classes that fit one chunk take a fused route with the same bits
/// (<see cref="NarrowSoftmaxHost"/>).
/// </summary>
internal sealed class ChunkedSoftmax(ComputeDevice device, Workspace workspace, string name, long maxChunkElements)
{
    SoftmaxKernels Kernels => device.Kernels(rt => new SoftmaxKernels(rt));
    ElementwiseKernels Elementwise => device.Kernels(rt => new ElementwiseKernels(rt));

    /// <summary>
    /// The most rows a caller will pass (0: unknown): buffers are sized for it on first use, so calls whose
    /// row count varies (the adaptive head's clusters) never reallocate.
    /// </summary>
    public int RowCapacity { get; set; }

    /// <summary>Allocates what a training call over up to <see cref="RowCapacity"/> rows against <paramref name="weight"/> [C, K] uses.</summary>
    public void Reserve(DeviceTensor<float> weight)
    {
        int classes = weight.Shape[0];
        workspace.GetWithin<float>(name + "/logits", LogitsCapacity(classes), 1);
        workspace.GetWithin<float>(name + "/rows", 4L * RowCapacity, 4);
        workspace.GetWithin<float>(name + "/ones", RowCapacity, 1, 1);
        workspace.Get<float>(name + "/no-bias", 1);
        if (FusedHost(weight.Shape[1], false, ChunkColumns(RowCapacity, classes), classes) is not null)
        {
            device.Gemm.ReservePack(weight, true, workspace, PackedWeightName(true));
            device.Gemm.ReservePack(weight, false, workspace, PackedWeightName(false));
            FusedScratch(RowCapacity, classes, weight.Shape[1]);
        }
    }

    /// <summary>Whether calls may take host execution's fused route for few features; off only to test that it gives the GEMM route's bits.</summary>
    public bool FusesNarrowRows { get; set; } = true;

    /// <summary>The host GEMM when a call of <paramref name="features"/> features takes the fused route: host execution, no bias, every class in one chunk.</summary>
    HostGemm? FusedHost(int features, bool hasBias, int width, int classes) =>
        FusesNarrowRows && device.RunsOnHost && !hasBias && width == classes && features <= NarrowSoftmaxHost.MaxFeatures
            ? device.Gemm.Backend as HostGemm : null;

    /// <summary>The fused route's packed copy of the weight: W^T [K, C] for the logits (<paramref name="transposed"/>), W [C, K] for dX.</summary>
    ArrayView<float> PackedWeight(AcceleratorStream s, DeviceTensor<float> weight, bool transposed) =>
        device.Gemm.Pack(s, weight, transposed, workspace, PackedWeightName(transposed)).Packed!.View;

    string PackedWeightName(bool transposed) => name + (transposed ? "/packed-w-t" : "/packed-w");

    /// <summary>The fused route's parts' logits scratch and dW's partial sums, sized for up to <paramref name="rows"/> rows on first use.</summary>
    (DeviceTensor<float> Scratch, DeviceTensor<float> Sums) FusedScratch(int rows, int classes, int features) =>
        (workspace.GetWithin<float>(name + "/narrow-scratch", SoftmaxKernels.NarrowScratchLength(Math.Max(rows, RowCapacity), classes),
                checked((int)SoftmaxKernels.NarrowScratchLength(rows, classes))),
            workspace.Get<float>(name + "/narrow-sums", classes, features));

    /// <summary>
    /// The fused route (<see cref="SoftmaxKernels.NarrowRows"/>): the same outputs as the GEMM route, bit for bit. With
    /// gradX null only the row statistics, which <see cref="SoftmaxKernels.FinishRows"/> then finishes as after RowStats.
    /// </summary>
    void RunFused(AcceleratorStream s, HostGemm host, DeviceTensor<float> x, DeviceTensor<float> weight, DeviceTensor<int> targets,
        DeviceTensor<float> rowLoss, float lossScale, DeviceTensor<float>? gradX, DeviceTensor<float>? gradWeight, DeviceTensor<float> logits)
    {
        int m = x.Shape[0], classes = weight.Shape[0], k = x.Shape[1];
        var rows = RowBuffers(m);
        var (scratch, sums) = FusedScratch(m, classes, k);
        bool training = gradX is not null;
        var transposed = PackedWeight(s, weight, true);
        var straight = training ? PackedWeight(s, weight, false) : transposed;
        var p = new SoftmaxRowParams(m, classes, classes, 0, classes, 0, 1, training ? 1 : 0, lossScale);
        var gradient = logits.View.SubView(0, (long)m * classes);
        Kernels.NarrowRows(s, host, p, k, x.View, transposed, straight, targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse,
            rowLoss.View, gradient, (gradX ?? x).View, scratch.View);
        if (training) Kernels.NarrowWeightGradient(s, m, classes, k, host.Blocking.KC, gradient, x.View, gradWeight!.View, sums.View);
        else Kernels.FinishRows(s, new SoftmaxRowParams(m, 0, 0, 0, classes, 0, 0, 0, 0f), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
    }

    /// <summary>Columns per chunk for <paramref name="rows"/> rows over <paramref name="classes"/> classes.</summary>
    public int ChunkColumns(int rows, int classes)
    {
        long columns = Math.Max(1, maxChunkElements / Math.Max(1, rows));
        if (columns >= classes) return classes;
        return (int)(columns >= 256 ? columns / 256 * 256 : columns);
    }

    /// <summary>
    /// rowLoss [M] = -log p(target) (0 for rows whose target is outside [0, C)); rowLse [M] (workspace
    /// "<c>name</c>/lse") holds each row's log-sum-exp afterwards.
    /// </summary>
    public void Forward(AcceleratorStream s, DeviceTensor<float> x, DeviceTensor<float> weight, DeviceTensor<float>? bias,
        DeviceTensor<int> targets, DeviceTensor<float> rowLoss)
    {
        int m = x.Shape[0], classes = weight.Shape[0];
        if (m == 0) return;
        var rows = RowBuffers(m);
        int width = ChunkColumns(m, classes);
        var logits = workspace.GetWithin<float>(name + "/logits", LogitsCapacity(classes), m, width);
        if (FusedHost(x.Shape[1], bias is not null, width, classes) is { } host)
        {
            RunFused(s, host, x, weight, targets, rowLoss, 0f, null, null, logits);
            return;
        }
        for (int c0 = 0; c0 < classes; c0 += width)
        {
            int w = Math.Min(width, classes - c0);
            var chunk = logits.View.SubView(0, (long)m * w);
            device.Gemm.Multiply(s, x, false, weight.Slice(c0, w), true, DeviceTensor<float>.FromView(chunk, new Shape(m, w)));
            var p = new SoftmaxRowParams(m, w, w, c0, classes, bias is null ? 0 : 1, c0 == 0 ? 1 : 0, 0, 0f);
            Kernels.RowStats(s, p, chunk, BiasView(bias), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
        }
        Kernels.FinishRows(s, new SoftmaxRowParams(m, 0, 0, 0, classes, 0, 0, 0, 0f), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
    }

    /// <summary>
    /// Forward and backward: rowLoss [M] written; gradX [M, K] WRITTEN with lossScale * dL/dx; gradWeight [C, K]
    /// and gradBias [C] ACCUMULATED (+=). Rows with targets outside [0, C) contribute nothing.
    /// </summary>
    public void ForwardBackward(AcceleratorStream s, DeviceTensor<float> x, DeviceTensor<float> weight, DeviceTensor<float>? bias,
        DeviceTensor<int> targets, DeviceTensor<float> rowLoss, float lossScale,
        DeviceTensor<float> gradX, DeviceTensor<float> gradWeight, DeviceTensor<float>? gradBias)
    {
        int m = x.Shape[0], classes = weight.Shape[0];
        if (m == 0) return;
        var rows = RowBuffers(m);
        int width = ChunkColumns(m, classes), hasBias = bias is null ? 0 : 1;
        var logits = workspace.GetWithin<float>(name + "/logits", LogitsCapacity(classes), m, width);
        DeviceTensor<float> Logits(int c0, int w)
        {
            var chunk = DeviceTensor<float>.FromView(logits.View.SubView(0, (long)m * w), new Shape(m, w));
            device.Gemm.Multiply(s, x, false, weight.Slice(c0, w), true, chunk);
            return chunk;
        }

        if (FusedHost(x.Shape[1], hasBias != 0, width, classes) is { } host)
        {
            RunFused(s, host, x, weight, targets, rowLoss, lossScale, gradX, gradWeight, logits);
            return;
        }
        if (width == classes)
        {
            var all = Logits(0, classes);
            var p = new SoftmaxRowParams(m, classes, classes, 0, classes, hasBias, 1, 1, lossScale);
            Kernels.RowStats(s, p, all.View, BiasView(bias), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
            Backward(s, x, weight, all, 0, gradX, gradWeight, gradBias);
            return;
        }

        for (int c0 = 0; c0 < classes; c0 += width)
        {
            int w = Math.Min(width, classes - c0);
            var p = new SoftmaxRowParams(m, w, w, c0, classes, hasBias, c0 == 0 ? 1 : 0, 0, lossScale);
            Kernels.RowStats(s, p, Logits(c0, w).View, BiasView(bias), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
        }
        Kernels.FinishRows(s, new SoftmaxRowParams(m, 0, 0, 0, classes, 0, 0, 0, 0f), targets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, rowLoss.View);
        for (int c0 = 0; c0 < classes; c0 += width)
        {
            int w = Math.Min(width, classes - c0);
            var chunk = Logits(c0, w);
            Kernels.Gradient(s, new SoftmaxRowParams(m, w, w, c0, classes, hasBias, 0, 0, lossScale), chunk.View, BiasView(bias), targets.View, rows.Lse);
            Backward(s, x, weight, chunk, c0, gradX, gradWeight, gradBias);
        }
    }

    /// <summary>
    /// Given dL/dlogits for classes [c0, c0 + w) in <paramref name="dLogits"/> [M, w]: gradX (= on the first chunk,
    /// += after) += dLogits W_c; gradWeight_c += dLogits^T x; gradBias_c += column sums of dLogits.
    /// </summary>
    void Backward(AcceleratorStream s, DeviceTensor<float> x, DeviceTensor<float> weight, DeviceTensor<float> dLogits, int c0,
        DeviceTensor<float> gradX, DeviceTensor<float> gradWeight, DeviceTensor<float>? gradBias)
    {
        int m = dLogits.Shape[0], w = dLogits.Shape[1];
        device.Gemm.Multiply(s, dLogits, false, weight.Slice(c0, w), false, gradX, 1f, c0 == 0 ? 0f : 1f);
        device.Gemm.Multiply(s, dLogits, true, x, false, gradWeight.Slice(c0, w), 1f, 1f);
        if (gradBias is not null)
            device.Gemm.Multiply(s, Ones(s, m), false, dLogits, false, DeviceTensor<float>.FromView(gradBias.View.SubView(c0, w), new Shape(1, w)), 1f, 1f);
    }

    /// <summary>
    /// A [1, M] row of ones: column sums (bias gradients) as a GEMM, which streams the [M, w] gradient at memory
    /// speed; a thread-per-column loop over 2560 rows is latency-bound with only w / 32 warps.
    /// </summary>
    DeviceTensor<float> Ones(AcceleratorStream s, int m)
    {
        var ones = workspace.GetWithin<float>(name + "/ones", RowCapacity, 1, m);
        Elementwise.Fill(s, ones.View, 1f);
        return ones;
    }

    /// <summary>
    /// Writes log-softmax(x W^T + b) into a [M, C] block of <paramref name="output"/> with leading dimension
    /// <paramref name="ld"/> (the block starts at element 0 of the view), plus addend[r * addendStride] per row
    /// when <paramref name="addend"/> is given (the adaptive head's cluster log-probability). No extra chunk
    /// memory: the output itself holds the logits.
    /// </summary>
    public void LogProbabilities(AcceleratorStream s, DeviceTensor<float> x, DeviceTensor<float> weight, DeviceTensor<float>? bias,
        ArrayView<float> output, int ld, ArrayView<float>? addend, int addendStride)
    {
        int m = x.Shape[0], classes = weight.Shape[0], k = x.Shape[1];
        if (m == 0) return;
        var rows = RowBuffers(m);
        // Classes = 0 in the row parameters: no row has a target, the loss slot is scratch.
        var noTargets = workspace.Get<int>(name + "/no-targets", m);
        var scratchLoss = workspace.Get<float>(name + "/scratch-loss", m);
        int width = ChunkColumns(m, classes);
        for (int c0 = 0; c0 < classes; c0 += width)
        {
            int w = Math.Min(width, classes - c0);
            var block = output.SubView(c0);
            device.Gemm.Run(s, new GemmParams(m, w, k, 1f, 0f, 0, 1, k, k, ld, 0, 0, 0, 1), x.View, weight.View.SubView((long)c0 * k), block);
            var p = new SoftmaxRowParams(m, w, ld, c0, 0, bias is null ? 0 : 1, c0 == 0 ? 1 : 0, 0, 0f);
            Kernels.RowStats(s, p, block, BiasView(bias), noTargets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, scratchLoss.View);
        }
        Kernels.FinishRows(s, new SoftmaxRowParams(m, 0, 0, 0, 0, 0, 0, 0, 0f), noTargets.View, rows.Max, rows.Sum, rows.TargetLogit, rows.Lse, scratchLoss.View);
        var lp = new LogSoftmaxParams(m, classes, ld, 0, bias is null ? 0 : 1, addend is null ? 0 : 1, addendStride, 0);
        Kernels.LogSoftmax(s, lp, output, BiasView(bias), rows.Lse, addend ?? rows.Lse);
    }

    /// <summary>The most logits a chunk holds for up to <see cref="RowCapacity"/> rows: all classes, or the budget.</summary>
    long LogitsCapacity(int classes) => Math.Min((long)RowCapacity * classes, maxChunkElements);

    ArrayView<float> BiasView(DeviceTensor<float>? bias) => bias?.View ?? workspace.Get<float>(name + "/no-bias", 1).View;

    (ArrayView<float> Max, ArrayView<float> Sum, ArrayView<float> TargetLogit, ArrayView<float> Lse) RowBuffers(int m)
    {
        var all = workspace.GetWithin<float>(name + "/rows", 4L * RowCapacity, 4 * m).View;
        return (all.SubView(0, m), all.SubView(m, m), all.SubView(2L * m, m), all.SubView(3L * m, m));
    }
}
