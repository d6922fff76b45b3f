using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Softmax;

/// <summary>
/// Adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for GPUs") with the semantics of
/// torch.nn.AdaptiveLogSoftmaxWithLoss. Cutoffs c_0 &lt; c_1 &lt; ... split the frequency-sorted vocabulary:
/// the head scores the shortlist [0, c_0) plus one logit per tail cluster; cluster i holds the words
/// [c_i, c_(i+1)) (the last ends at V) and scores them from a projection of h to
/// d_i = floor(P / div_value^(i+1)) features. log p(w) = head_logprob[w] for a shortlist word and
/// head_logprob[c_0 + i] + cluster_logprob_i[w - c_i] for a word of cluster i: exact, normalized.
/// </summary>
/// <remarks>
/// Parameters (all [out, in], like <c>softmax/W</c> and torch's nn.Linear weights, so torch's are copied as is):
/// <list type="bullet">
/// <item><c>adaptive/head/W</c> [c_0 + clusters, P] (torch head.weight), <c>adaptive/head/b</c> [c_0 + clusters]
/// only with head_bias (torch head.bias);</item>
/// <item><c>adaptive/tail{i}/proj</c> [d_i, P] (torch tail[i][0].weight) and <c>adaptive/tail{i}/W</c>
/// [c_(i+1) - c_i, d_i] (torch tail[i][1].weight), no biases.</item>
/// </list>
/// Per call the targets are read on the host, which lists each cluster's rows (in row order: deterministic);
/// the head and each non-empty cluster are an exact chunked softmax (<see cref="ChunkedSoftmax"/>) over
/// just their rows, each with its own logits budget. Clusters' losses and dL/dh are scattered back to their rows.
/// </remarks>
public sealed class AdaptiveSoftmaxHead : ISoftmaxHead
{
    readonly ComputeDevice device;
    readonly Workspace workspace;
    readonly SoftmaxRows rows = new("adaptive softmax");
    readonly ChunkedSoftmax head;
    readonly ChunkedSoftmax[] tails;
    readonly int[] bounds;  // [c_0, c_1, ..., V]
    int[] packed = [];

    public AdaptiveSoftmaxHead(ComputeDevice device, int vocabularySize, int hiddenSize, IReadOnlyList<int> cutoffs, float divValue = 4f,
        bool headBias = false, long maxLogitElements = FullSoftmaxHead.DefaultMaxLogitElements)
    {
        CheckOptions(vocabularySize, hiddenSize, cutoffs, divValue);
        this.device = device;
        VocabularySize = vocabularySize;
        HiddenSize = hiddenSize;
        DivValue = divValue;
        bounds = [.. cutoffs, vocabularySize];
        int clusters = cutoffs.Count;
        HeadWeight = Parameter.Create(device, "adaptive/head/W", new Shape(ShortlistSize + clusters, hiddenSize));
        HeadBias = headBias ? Parameter.Create(device, "adaptive/head/b", new Shape(ShortlistSize + clusters)) : null;
        TailProjections = new Parameter[clusters];
        TailWeights = new Parameter[clusters];
        for (int i = 0; i < clusters; i++)
        {
            int features = ProjectionSize(hiddenSize, divValue, i);
            TailProjections[i] = Parameter.Create(device, $"adaptive/tail{i}/proj", new Shape(features, hiddenSize));
            TailWeights[i] = Parameter.Create(device, $"adaptive/tail{i}/W", new Shape(bounds[i + 1] - bounds[i], features));
        }
        workspace = new Workspace(device);
        head = new ChunkedSoftmax(device, workspace, "head", maxLogitElements);
        tails = Enumerable.Range(0, clusters).Select(i => new ChunkedSoftmax(device, workspace, $"tail{i}", maxLogitElements)).ToArray();
    }

    public int VocabularySize { get; }
    public int HiddenSize { get; }
    public float DivValue { get; }

    /// <summary>c_0: the words the head scores directly.</summary>
    public int ShortlistSize => bounds[0];

    public int ClusterCount => bounds.Length - 1;

    /// <summary>The cutoffs as given (without V).</summary>
    public IReadOnlyList<int> Cutoffs => bounds[..^1];

    public Parameter HeadWeight { get; }
    public Parameter? HeadBias { get; }
    public Parameter[] TailProjections { get; }
    public Parameter[] TailWeights { get; }

    public IEnumerable<Parameter> Parameters =>
        new[] { HeadWeight }.Concat(HeadBias is null ? [] : [HeadBias]).Concat(TailProjections.Zip(TailWeights).SelectMany(t => new[] { t.First, t.Second }));

    /// <summary>torch's hsz for cluster i: floor(P / div_value^(i+1)).</summary>
    public static int ProjectionSize(int hiddenSize, float divValue, int cluster) =>
        (int)Math.Floor(hiddenSize / Math.Pow(divValue, cluster + 1));

    static void CheckOptions(int vocabularySize, int hiddenSize, IReadOnlyList<int> cutoffs, float divValue)
    {
        if (vocabularySize < 2 || hiddenSize < 1)
            throw new ArgumentException($"Adaptive softmax: vocabulary size ({vocabularySize}) must be at least 2 and hidden size ({hiddenSize}) positive.");
        string given = "[" + string.Join(", ", cutoffs) + "]";
        if (cutoffs.Count == 0)
            throw new ArgumentException($"Adaptive softmax: cutoffs {given} are empty; give at least one, e.g. [{vocabularySize / 10}].");
        for (int i = 0; i < cutoffs.Count; i++)
        {
            if (cutoffs[i] <= 0 || cutoffs[i] >= vocabularySize)
                throw new ArgumentException($"Adaptive softmax: cutoff {cutoffs[i]} in {given} must be between 1 and {vocabularySize - 1} (the vocabulary has {vocabularySize} words).");
            if (i > 0 && cutoffs[i] <= cutoffs[i - 1])
                throw new ArgumentException($"Adaptive softmax: cutoffs {given} must be strictly increasing ({cutoffs[i - 1]} then {cutoffs[i]}).");
        }
        if (!(divValue > 0) || !float.IsFinite(divValue))
            throw new ArgumentException($"Adaptive softmax: div_value must be positive, got {divValue}.");
        for (int i = 0; i < cutoffs.Count; i++)
            if (ProjectionSize(hiddenSize, divValue, i) < 1)
                throw new ArgumentException(
                    $"Adaptive softmax: cluster {i} would project {hiddenSize} features to floor({hiddenSize} / {divValue}^{i + 1}) = 0; " +
                    "lower div_value or use fewer cutoffs.");
    }

    public void BeginStep(AcceleratorStream stream) { }

    public double ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> gradHidden, float lossScale)
        => rows.ForwardBackwardReadingLoss(this, workspace, stream, hidden, targets, gradHidden, lossScale);

    public void ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, TrainingTargets targets, DeviceTensor<float> gradHidden,
        float lossScale, LossOutput loss)
    {
        int n = rows.CheckShapes(hidden, null, gradHidden, HiddenSize);
        var host = rows.CheckTargets(targets, n, VocabularySize);
        Run(stream, hidden, host, targets.Device, gradHidden, lossScale, loss);
    }

    public double Loss(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets)
    {
        rows.CheckShapes(hidden, targets, null, HiddenSize);
        return Run(stream, hidden, rows.ReadTargets(stream, targets, VocabularySize), targets, null, 0f, null);
    }

    public void TargetLogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> output)
    {
        int n = rows.CheckShapes(hidden, targets, null, HiddenSize);
        Shape.Check("adaptive softmax: target log-probabilities", output.Shape, new Shape(n));
        Run(stream, hidden, rows.ReadTargets(stream, targets, VocabularySize), targets, null, 0f, null, output);
    }

    /// <summary>
    /// Loss (gradHidden null) or loss and gradients, for targets checked on the host (<paramref name="hostTargets"/>,
    /// the same values as <paramref name="targets"/>). The summed loss goes to <paramref name="loss"/> on the
    /// device when given (returns 0, no wait); with <paramref name="logProbOutput"/>, -rowLoss is written there;
    /// otherwise the losses are read back and their sum returned.
    /// </summary>
    double Run(AcceleratorStream s, DeviceTensor<float> hidden, ReadOnlySpan<int> hostTargets, DeviceTensor<int> targets, DeviceTensor<float>? gradHidden,
        float lossScale, LossOutput? loss, DeviceTensor<float>? logProbOutput = null)
    {
        int n = hidden.Shape[0], p = HiddenSize, clusters = ClusterCount;
        if (n == 0)
        {
            if (loss is { } empty) SoftmaxRows.WriteLoss(device, s, workspace.Get<float>("row-loss", 1).Slice(0, 0), empty);
            return 0;
        }

        // Host: the head's target column per row, then per cluster its rows and their in-cluster targets.
        // packed: headTarget [N] | rows_0 [n_0] | local_0 [n_0] | rows_1 ...
        if (packed.Length < 3 * n) packed = new int[3 * n];
        Span<int> counts = stackalloc int[clusters];
        for (int r = 0; r < n; r++)
        {
            int t = hostTargets[r];
            int cluster = ClusterOf(t);
            packed[r] = t < 0 ? -1 : cluster < 0 ? t : ShortlistSize + cluster;
            if (cluster >= 0) counts[cluster]++;
        }
        Span<int> starts = stackalloc int[clusters];
        int at = n;
        for (int i = 0; i < clusters; i++)
        {
            starts[i] = at;
            at += 2 * counts[i];
        }
        Span<int> filled = stackalloc int[clusters];
        for (int r = 0; r < n; r++)
        {
            int t = hostTargets[r], cluster = ClusterOf(t);
            if (cluster < 0) continue;
            packed[starts[cluster] + filled[cluster]] = r;
            packed[starts[cluster] + counts[cluster] + filled[cluster]] = t - bounds[cluster];
            filled[cluster]++;
        }
        // Per-cluster buffers are sized for all n rows (their bound), so a cluster's new maximum never reallocates.
        var ints = workspace.GetWithin<int>("ints", 3L * n, at);
        ints.CopyFrom(s, packed.AsSpan(0, at));
        var headTargets = DeviceTensor<int>.FromView(ints.View.SubView(0, n), new Shape(n));

        var rowLoss = workspace.Get<float>("row-loss", n);
        if (gradHidden is null)
            head.Forward(s, hidden, HeadWeight.Value, HeadBias?.Value, headTargets, rowLoss);
        else
            head.ForwardBackward(s, hidden, HeadWeight.Value, HeadBias?.Value, headTargets, rowLoss, lossScale,
                gradHidden, HeadWeight.Gradient, HeadBias?.Gradient);

        var embedding = device.Kernels(rt => new EmbeddingKernels(rt));
        for (int i = 0; i < clusters; i++)
        {
            int m = counts[i];
            if (m == 0)
            {
                if (gradHidden is not null) ReserveCluster(i, n);
                continue;
            }
            int features = TailProjections[i].Shape[0];
            var clusterRows = ints.View.SubView(starts[i], m);
            var localTargets = DeviceTensor<int>.FromView(ints.View.SubView(starts[i] + m, m), new Shape(m));
            // x_i [m, P] = the cluster's rows of h; z_i [m, d_i] = x_i proj_i^T.
            tails[i].RowCapacity = n;
            var x = workspace.GetWithin<float>($"tail{i}/x", (long)n * p, m, p);
            embedding.Gather(s, hidden.View, p, clusterRows, x.View);
            var z = workspace.GetWithin<float>($"tail{i}/z", (long)n * features, m, features);
            device.Gemm.Multiply(s, x, false, TailProjections[i].Value, true, z);
            var clusterLoss = workspace.GetWithin<float>($"tail{i}/loss", n, m);
            if (gradHidden is null)
                tails[i].Forward(s, z, TailWeights[i].Value, null, localTargets, clusterLoss);
            else
            {
                var gradZ = workspace.GetWithin<float>($"tail{i}/grad-z", (long)n * features, m, features);
                tails[i].ForwardBackward(s, z, TailWeights[i].Value, null, localTargets, clusterLoss, lossScale, gradZ, TailWeights[i].Gradient, null);
                device.Gemm.Multiply(s, gradZ, true, x, false, TailProjections[i].Gradient, 1f, 1f);
                var gradX = workspace.GetWithin<float>($"tail{i}/grad-x", (long)n * p, m, p);
                device.Gemm.Multiply(s, gradZ, false, TailProjections[i].Value, false, gradX);
                embedding.ScatterAdd(s, gradX.View, p, clusterRows, gradHidden.View);
            }
            embedding.ScatterAdd(s, clusterLoss.View, 1, clusterRows, rowLoss.View);
        }

        if (logProbOutput is not null)
        {
            device.Kernels(rt => new ElementwiseKernels(rt)).Axpby(s, -1f, rowLoss.View, 0f, logProbOutput.View);
            return 0;
        }
        if (loss is { } output)
        {
            SoftmaxRows.WriteLoss(device, s, rowLoss, output);
            return 0;
        }
        return rows.SumLosses(s, rowLoss);
    }

    /// <summary>
    /// Allocates cluster <paramref name="cluster"/>'s training buffers for up to <paramref name="rows"/> rows while
    /// it has none, so the step that first reaches it does not allocate (the buffers a call with rows would use).
    /// </summary>
    void ReserveCluster(int cluster, int rows)
    {
        int p = HiddenSize, features = TailProjections[cluster].Shape[0];
        workspace.GetWithin<float>($"tail{cluster}/x", (long)rows * p, 1, p);
        workspace.GetWithin<float>($"tail{cluster}/z", (long)rows * features, 1, features);
        workspace.GetWithin<float>($"tail{cluster}/loss", rows, 1);
        workspace.GetWithin<float>($"tail{cluster}/grad-z", (long)rows * features, 1, features);
        workspace.GetWithin<float>($"tail{cluster}/grad-x", (long)rows * p, 1, p);
        tails[cluster].RowCapacity = rows;
        tails[cluster].Reserve(TailWeights[cluster].Value);
    }

    /// <summary>The tail cluster of word t, or -1 for a shortlist word or padding.</summary>
    int ClusterOf(int t)
    {
        if (t < bounds[0]) return -1;
        int i = 0;
        while (t >= bounds[i + 1]) i++;
        return i;
    }

    public void LogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<float> output)
    {
        int n = rows.CheckShapes(hidden, null, null, HiddenSize);
        Shape.Check("adaptive softmax: log-probabilities", output.Shape, new Shape(n, VocabularySize));
        if (n == 0) return;
        int headSize = HeadWeight.Shape[0];
        var headLogProb = workspace.Get<float>("head-logprob", n, headSize);
        head.LogProbabilities(stream, hidden, HeadWeight.Value, HeadBias?.Value, headLogProb.View, headSize, null, 0);
        device.Kernels(rt => new SoftmaxKernels(rt)).CopyBlock(stream, new CopyBlockParams(n, ShortlistSize, headSize, VocabularySize), headLogProb.View, output.View);
        for (int i = 0; i < ClusterCount; i++)
        {
            var z = workspace.Get<float>($"tail{i}/z-all-rows", n, TailProjections[i].Shape[0]);
            device.Gemm.Multiply(stream, hidden, false, TailProjections[i].Value, true, z);
            tails[i].LogProbabilities(stream, z, TailWeights[i].Value, null, output.View.SubView(bounds[i]), VocabularySize,
                headLogProb.View.SubView(ShortlistSize + i), headSize);
        }
    }

    public void Dispose()
    {
        workspace.Dispose();
        foreach (var parameter in Parameters) parameter.Dispose();
    }
}
