using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Softmax;

/// <summary>
/// bilm-tf's training loss: TensorFlow's sampled_softmax_loss with the log-uniform sampler. Per call, S
/// distinct negative ids are drawn (shared by all rows, <see cref="LogUniformSampler"/>); each row scores
/// its target and the S samples, logit = h . W[k] + b[k] - log(expected count of k), with a sample equal
/// to the row's target (an accidental hit) left out; the loss is the softmax cross-entropy over
/// [target, samples]. Only the gathered rows of <c>softmax/W</c> [V, P] and <c>softmax/b</c> [V] get
/// gradient, scattered back and listed in <see cref="Parameter.TouchedRows"/> (row-sparse parameters).
/// Evaluation (<see cref="Loss"/>, log-probabilities) is the exact full softmax over the same weights, as
/// in bilm-tf at test time.
/// </summary>
/// <remarks>
/// On the host per call: the targets are read and checked, the unique rows to gather are listed (samples
/// first, then targets that are not samples, in row order), each row's accidental-hit position and the
/// per-touched-row lists of rows (CSR) are built, then uploaded in two copies. On the device: gather the
/// touched rows, one GEMM for the sampled logits, one row kernel (true-logit dot product, masked
/// log-sum-exp, loss, gradient in place), GEMMs for dL/dh and dL/dW_samples, fixed-order kernels folding in
/// the true rows' share (no atomics on repeated targets: deterministic), and a scatter-add of the unique
/// rows into the parameter gradients. The loss is summed on the device. Nothing waits for the device: the
/// next call's sample is drawn on a worker thread while this call's host planning and device work run
/// (each sample a pure function of (seed, call), so the thread's timing changes nothing).
/// </remarks>
public sealed class SampledSoftmaxHead : ISoftmaxHead
{
    readonly ComputeDevice device;
    readonly Workspace workspace;
    readonly FullSoftmaxHead exact;
    readonly SoftmaxRows rows = new("sampled softmax");

    // Host state, kept between calls (no allocation per step).
    readonly int[] slot;              // [V] position of a word in this call's touched list, -1 otherwise
    readonly bool[] touchedThisStep;  // [V]
    int[] stepRows = [];              // the step's touched rows, stepRowCount of them
    int stepRowCount;
    int[] packedInts = [];
    float[] packedFloats = [];
    int[] rowCounts = [];
    readonly DrawnSample sampleA, sampleB;
    DrawnSample prefetched;
    long prefetchedCall = -1;
    Task? pendingDraw;  // drawing `prefetched` for call `prefetchedCall` on a worker thread
    DeviceTensor<int>? touchedRows;

    public SampledSoftmaxHead(ComputeDevice device, int vocabularySize, int hiddenSize, int samples, ulong seed,
        long maxLogitElements = FullSoftmaxHead.DefaultMaxLogitElements)
    {
        Sampler = new LogUniformSampler(vocabularySize, samples, seed);
        this.device = device;
        Weight = FullSoftmaxHead.CreateWeight(device, vocabularySize, hiddenSize, rowSparse: true);
        Bias = FullSoftmaxHead.CreateBias(device, vocabularySize, rowSparse: true);
        exact = new FullSoftmaxHead(device, Weight, Bias, maxLogitElements, ownsParameters: false);
        workspace = new Workspace(device);
        slot = new int[vocabularySize];
        Array.Fill(slot, -1);
        touchedThisStep = new bool[vocabularySize];
        sampleA = new DrawnSample(samples);
        sampleB = new DrawnSample(samples);
        prefetched = sampleA;
    }

    public int VocabularySize => Weight.Shape[0];
    public int HiddenSize => Weight.Shape[1];

    /// <summary>S, the negatives drawn per call.</summary>
    public int Samples => Sampler.Samples;

    public LogUniformSampler Sampler { get; }

    /// <summary>
    /// How many samples have been drawn (the index of the next call's sample). Samples are a pure function
    /// of (seed, call), so setting it continues a run's sequence exactly (a trainer sets it from the step).
    /// </summary>
    public long Calls { get; set; }

    /// <summary>TensorFlow's subtract_log_q: subtract log(expected count) from the logits (true in sampled_softmax_loss).</summary>
    public bool SubtractLogQ { get; init; } = true;

    /// <summary><c>softmax/W</c> [V, P], row-sparse.</summary>
    public Parameter Weight { get; }

    /// <summary><c>softmax/b</c> [V], row-sparse (same touched rows as the weight).</summary>
    public Parameter Bias { get; }

    public IEnumerable<Parameter> Parameters => [Weight, Bias];

    public void BeginStep(AcceleratorStream stream)
    {
        for (int i = 0; i < stepRowCount; i++) touchedThisStep[stepRows[i]] = false;
        stepRowCount = 0;
        Weight.TouchedCount = Bias.TouchedCount = 0;
    }

    /// <summary>The sampled loss with the next sample of this head's sampler (see <see cref="ISoftmaxHead.ForwardBackward(AcceleratorStream, DeviceTensor{float}, DeviceTensor{int}, DeviceTensor{float}, float)"/>).</summary>
    public double ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> gradHidden, float lossScale)
        => rows.ForwardBackwardReadingLoss(this, workspace, stream, hidden, targets, gradHidden, lossScale);

    /// <summary>The sampled loss with the next sample, written to <paramref name="loss"/> on the device (no host wait).</summary>
    public void ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, TrainingTargets targets, DeviceTensor<float> gradHidden,
        float lossScale, LossOutput loss)
    {
        int n = rows.CheckShapes(hidden, null, gradHidden, HiddenSize);
        var host = rows.CheckTargets(targets, n, VocabularySize);
        var sample = TakeSample(Calls);
        Calls++;
        PrefetchSample(ReferenceEquals(sample, sampleA) ? sampleB : sampleA, Calls);
        Run(stream, hidden, host, targets.Device, gradHidden, lossScale, sample, loss);
    }

    /// <summary>
    /// The sampled loss with a given sample: <paramref name="ids"/> are S distinct word ids, their expected
    /// counts those of the log-uniform sampler after <paramref name="tries"/> draws. Does not advance the sampler.
    /// </summary>
    public double ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> gradHidden,
        float lossScale, ReadOnlySpan<int> ids, int tries)
    {
        rows.CheckShapes(hidden, targets, gradHidden, HiddenSize);
        if (ids.Length != Samples) throw new ArgumentException($"Sampled softmax: {ids.Length} sample ids given, the head draws {Samples}.");
        if (tries < Samples) throw new ArgumentException($"Sampled softmax: {tries} tries cannot give {Samples} distinct samples.");
        foreach (int k in ids)
            if (k < 0 || k >= VocabularySize) throw new ArgumentException($"Sampled softmax: sample id {k} is outside [0, {VocabularySize}).");
        if (ids.ToArray().Distinct().Count() != ids.Length) throw new ArgumentException("Sampled softmax: the sample ids must be distinct.");
        var sample = new DrawnSample(Samples) { Tries = tries };
        ids.CopyTo(sample.Ids);
        for (int j = 0; j < Samples; j++) sample.LogQ[j] = LogExpectedCount(sample.Ids[j], tries);
        var host = rows.ReadTargets(stream, targets, VocabularySize);
        var sum = workspace.Get<float>("loss-sum", 1);
        Run(stream, hidden, host, targets, gradHidden, lossScale, sample, new LossOutput(sum.View, 1f));
        return SoftmaxRows.ReadScalar(stream, sum);
    }

    /// <summary>The sample of <paramref name="call"/>: the prefetched one when it is that call's (waiting for the worker), else drawn now.</summary>
    DrawnSample TakeSample(long call)
    {
        pendingDraw?.GetAwaiter().GetResult();
        pendingDraw = null;
        if (prefetchedCall != call)
        {
            Draw(prefetched, call);
            prefetchedCall = call;
        }
        return prefetched;
    }

    /// <summary>Starts drawing call <paramref name="call"/>'s sample into <paramref name="into"/> (not the sample in use) on a worker thread.</summary>
    void PrefetchSample(DrawnSample into, long call)
    {
        prefetched = into;
        prefetchedCall = call;
        pendingDraw = Task.Run(() => Draw(into, call));
    }

    /// <summary>S distinct ids in draw order, the draws it took, and log(expected count) of each id.</summary>
    sealed class DrawnSample(int samples)
    {
        public int[] Ids { get; } = new int[samples];
        public float[] LogQ { get; } = new float[samples];
        public int Tries { get; set; }
    }

    void Draw(DrawnSample sample, long call)
    {
        sample.Tries = Sampler.DrawUnique(call, sample.Ids);
        for (int j = 0; j < sample.Ids.Length; j++) sample.LogQ[j] = LogExpectedCount(sample.Ids[j], sample.Tries);
    }

    void Run(AcceleratorStream s, DeviceTensor<float> hidden, ReadOnlySpan<int> hostTargets, DeviceTensor<int> targets, DeviceTensor<float> gradHidden,
        float lossScale, DrawnSample sample, LossOutput loss)
    {
        int n = hidden.Shape[0], p = HiddenSize, samples = Samples;
        if (n == 0)
        {
            SoftmaxRows.WriteLoss(device, s, workspace.Get<float>("row-loss", 1).Slice(0, 0), loss);
            return;
        }

        int touched = BuildRowLists(hostTargets, sample, out int valid);
        var layout = new PackedLayout(touched, n, valid);
        // Sized for the most rows a call over n rows can touch (S + n), so a new maximum never reallocates.
        int most = samples + n;
        var ints = workspace.GetWithin<int>("ints", new PackedLayout(most, n, n).Total, layout.Total);
        ints.CopyFrom(s, packedInts.AsSpan(0, layout.Total));
        var floats = workspace.Get<float>("floats", samples + n);
        floats.CopyFrom(s, packedFloats.AsSpan(0, samples + n));
        var touchedIds = ints.View.SubView(layout.TouchedIds, touched);
        var rowTouched = ints.View.SubView(layout.RowTouched, n);
        var hit = ints.View.SubView(layout.Hit, n);
        var offsets = ints.View.SubView(layout.Offsets, touched + 1);
        var rowList = ints.View.SubView(layout.RowList, Math.Max(valid, 1));
        var sampleLogQ = floats.View.SubView(0, samples);
        var trueLogQ = floats.View.SubView(samples, n);

        var embedding = device.Kernels(rt => new EmbeddingKernels(rt));
        var kernels = device.Kernels(rt => new SoftmaxKernels(rt));
        // touchedW [U, P], touchedB [U]: samples first, so rows [0, S) are the sampled weights.
        var touchedW = workspace.GetWithin<float>("touched-W", (long)most * p, touched, p);
        var touchedB = workspace.GetWithin<float>("touched-b", most, touched);
        embedding.Gather(s, Weight.Value.View, p, touchedIds, touchedW.View);
        embedding.Gather(s, Bias.Value.View, 1, touchedIds, touchedB.View);
        var sampledW = touchedW.Slice(0, samples);

        // logits [N, S] = h W_s^T, replaced in place by dL/dlogits.
        var logits = workspace.Get<float>("logits", n, samples);
        device.Gemm.Multiply(s, hidden, false, sampledW, true, logits);
        var rowLoss = workspace.Get<float>("row-loss", n);
        var trueGrad = workspace.Get<float>("true-grad", n);
        var prm = new SampledRowParams(n, samples, p, touched, 1, lossScale);
        kernels.SampledRows(s, prm, logits.View, hidden.View, touchedW.View, touchedB.View, rowTouched, hit, sampleLogQ, trueLogQ, rowLoss.View, trueGrad.View);

        // dL/dh = dL/dlogits W_s + trueGrad * W[target].
        device.Gemm.Multiply(s, logits, false, sampledW, false, gradHidden);
        kernels.AddTrueRows(s, prm, trueGrad.View, touchedW.View, rowTouched, gradHidden.View);

        // dL/dW for the touched rows: dL/dlogits^T h for the samples, plus the true rows' share; then scatter.
        var gradTouchedW = workspace.GetWithin<float>("touched-grad-W", (long)most * p, touched, p);
        var gradTouchedB = workspace.GetWithin<float>("touched-grad-b", most, touched);
        device.Gemm.Multiply(s, logits, true, hidden, false, gradTouchedW.Slice(0, samples));
        kernels.TouchedWeightGradient(s, prm, trueGrad.View, hidden.View, offsets, rowList, gradTouchedW.View);
        var ones = workspace.Get<float>("ones", 1, n);
        device.Kernels(rt => new ElementwiseKernels(rt)).Fill(s, ones.View, 1f);
        device.Gemm.Multiply(s, ones, false, logits, false, DeviceTensor<float>.FromView(gradTouchedB.View.SubView(0, samples), new Shape(1, samples)));
        kernels.TouchedBiasGradient(s, prm, trueGrad.View, offsets, rowList, gradTouchedB.View);
        embedding.ScatterAdd(s, gradTouchedW.View, p, touchedIds, Weight.Gradient.View);
        embedding.ScatterAdd(s, gradTouchedB.View, 1, touchedIds, Bias.Gradient.View);
        PublishTouchedRows(s);
        SoftmaxRows.WriteLoss(device, s, rowLoss, loss);
    }

    /// <summary>Where each list lives in the packed int upload: rowTouched [N] | hit [N] | touched [U] | offsets [U+1] | rowList [valid].</summary>
    readonly record struct PackedLayout(int Touched, int Rows, int Valid)
    {
        public int RowTouched => 0;
        public int Hit => Rows;
        public int TouchedIds => 2 * Rows;
        public int Offsets => TouchedIds + Touched;
        public int RowList => Offsets + Touched + 1;
        public int Total => RowList + Math.Max(Valid, 1);
    }

    /// <summary>
    /// Fills packedInts (see <see cref="PackedLayout"/>) and packedFloats (sampleLogQ [S] | trueLogQ [N]) for
    /// this call and adds the touched rows to the step's list; returns U, the number of unique rows to
    /// gather (the samples, then targets that are not samples, in row order), and the number of valid rows.
    /// </summary>
    int BuildRowLists(ReadOnlySpan<int> targets, DrawnSample sample, out int valid)
    {
        int n = targets.Length, samples = sample.Ids.Length, maxTouched = samples + n, tries = sample.Tries;
        int maxTotal = new PackedLayout(maxTouched, n, n).Total;
        if (packedInts.Length < maxTotal) packedInts = new int[maxTotal];
        if (packedFloats.Length < samples + n) packedFloats = new float[samples + n];
        if (rowCounts.Length < maxTouched) rowCounts = new int[maxTouched];
        var all = packedInts.AsSpan();
        var rowTouched = all.Slice(0, n);
        var hit = all.Slice(n, n);
        var touched = all.Slice(2 * n, maxTouched);
        var logQ = packedFloats.AsSpan();

        sample.LogQ.CopyTo(logQ);
        int u = 0;
        foreach (int k in sample.Ids)
        {
            slot[k] = u;
            touched[u] = k;
            rowCounts[u++] = 0;
        }
        valid = 0;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t < 0)
            {
                rowTouched[r] = hit[r] = -1;
                logQ[samples + r] = 0f;
                continue;
            }
            int at = slot[t];
            if (at < 0)
            {
                at = u++;
                slot[t] = at;
                touched[at] = t;
                rowCounts[at] = 0;
            }
            rowTouched[r] = at;
            hit[r] = at < samples ? at : -1;
            rowCounts[at]++;
            logQ[samples + r] = LogExpectedCount(t, tries);
            valid++;
        }
        for (int i = 0; i < u; i++) slot[touched[i]] = -1;

        // CSR lists: the rows whose target is touched row i are rowList[offsets[i] .. offsets[i+1]), in row order.
        var layout = new PackedLayout(u, n, valid);
        var offsets = all.Slice(layout.Offsets, u + 1);
        offsets[0] = 0;
        for (int i = 0; i < u; i++) offsets[i + 1] = offsets[i] + rowCounts[i];
        var rowList = all.Slice(layout.RowList, Math.Max(valid, 1));
        rowList[0] = 0;
        for (int r = 0; r < n; r++)
        {
            int at = rowTouched[r];
            if (at < 0) continue;
            rowList[offsets[at + 1] - rowCounts[at]] = r;
            rowCounts[at]--;
        }

        for (int i = 0; i < u; i++)
            if (!touchedThisStep[touched[i]])
            {
                touchedThisStep[touched[i]] = true;
                if (stepRows.Length <= stepRowCount) Array.Resize(ref stepRows, Math.Max(1024, stepRows.Length * 2));
                stepRows[stepRowCount++] = touched[i];
            }
        return u;
    }

    float LogExpectedCount(int k, int tries) => SubtractLogQ ? (float)Math.Log(Sampler.ExpectedCount(k, tries)) : 0f;

    /// <summary>Uploads the step's touched rows and points both parameters at them.</summary>
    void PublishTouchedRows(AcceleratorStream s)
    {
        touchedRows ??= device.Allocate<int>(new Shape(VocabularySize), "softmax touched rows");
        DeviceTensor<int>.FromView(touchedRows.View.SubView(0, stepRowCount), new Shape(stepRowCount)).CopyFrom(s, stepRows.AsSpan(0, stepRowCount));
        Weight.TouchedRows = Bias.TouchedRows = touchedRows;
        Weight.TouchedCount = Bias.TouchedCount = stepRowCount;
    }

    public double Loss(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets) => exact.Loss(stream, hidden, targets);

    public void LogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<float> output) =>
        exact.LogProbabilities(stream, hidden, output);

    public void TargetLogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> output) =>
        exact.TargetLogProbabilities(stream, hidden, targets, output);

    public void Dispose()
    {
        pendingDraw?.GetAwaiter().GetResult();
        exact.Dispose();
        workspace.Dispose();
        touchedRows?.Dispose();
        Weight.Dispose();
        Bias.Dispose();
    }
}
