using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Softmax;

/// <summary>
/// The exact softmax over the whole vocabulary: logits = h W^T + b with bilm-tf's weights
/// <c>softmax/W</c> [V, P] and <c>softmax/b</c> [V], fused log-softmax + negative log-likelihood +
/// gradient in vocabulary chunks (see <see cref="ChunkedSoftmax"/>): at most
/// <see cref="MaxLogitElements"/> logits exist at once, so memory is bounded for any V; when N x V fits in
/// that budget the logits are made once, otherwise the backward recomputes each chunk (one more GEMM).
/// </summary>
public sealed class FullSoftmaxHead : ISoftmaxHead
{
    /// <summary>Default logits budget: 2^27 floats (512 MiB), which holds N = 2560 rows of a 50,000-word vocabulary.</summary>
    public const long DefaultMaxLogitElements = 1L << 27;

    readonly ComputeDevice device;
    readonly Workspace workspace;
    readonly ChunkedSoftmax softmax;
    readonly SoftmaxRows rows = new("full softmax");

    readonly bool ownsParameters;

    public FullSoftmaxHead(ComputeDevice device, int vocabularySize, int hiddenSize, long maxLogitElements = DefaultMaxLogitElements)
        : this(device, CreateWeight(device, vocabularySize, hiddenSize, false), CreateBias(device, vocabularySize, false), maxLogitElements, true)
    {
    }

    /// <summary>Over existing <c>softmax/W</c> [V, P] and <c>softmax/b</c> [V] (the sampled head's exact evaluation path).</summary>
    internal FullSoftmaxHead(ComputeDevice device, Parameter weight, Parameter bias, long maxLogitElements, bool ownsParameters)
    {
        if (maxLogitElements < 1) throw new ArgumentException($"Softmax: the logits budget must be positive, got {maxLogitElements}.");
        this.device = device;
        this.ownsParameters = ownsParameters;
        Weight = weight;
        Bias = bias;
        VocabularySize = weight.Shape[0];
        HiddenSize = weight.Shape[1];
        MaxLogitElements = maxLogitElements;
        workspace = new Workspace(device);
        softmax = new ChunkedSoftmax(device, workspace, "full", maxLogitElements);
    }

    internal static Parameter CreateWeight(ComputeDevice device, int vocabularySize, int hiddenSize, bool rowSparse)
    {
        if (vocabularySize < 1 || hiddenSize < 1)
            throw new ArgumentException($"Softmax: vocabulary size ({vocabularySize}) and hidden size ({hiddenSize}) must be positive.");
        return Parameter.Create(device, "softmax/W", new Shape(vocabularySize, hiddenSize), rowSparse);
    }

    internal static Parameter CreateBias(ComputeDevice device, int vocabularySize, bool rowSparse) =>
        Parameter.Create(device, "softmax/b", new Shape(vocabularySize), rowSparse);

    public int VocabularySize { get; }
    public int HiddenSize { get; }
    public long MaxLogitElements { get; }

    /// <summary><c>softmax/W</c> [V, P]: row v scores word v.</summary>
    public Parameter Weight { get; }

    /// <summary><c>softmax/b</c> [V].</summary>
    public Parameter Bias { get; }

    public IEnumerable<Parameter> Parameters => [Weight, Bias];

    public void BeginStep(AcceleratorStream stream) { }

    public double ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> gradHidden, float lossScale)
        => rows.ForwardBackwardReadingLoss(this, workspace, stream, hidden, targets, gradHidden, lossScale);

    public void ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, TrainingTargets targets, DeviceTensor<float> gradHidden,
        float lossScale, LossOutput loss)
    {
        int n = rows.CheckShapes(hidden, null, gradHidden, HiddenSize);
        rows.CheckTargets(targets, n, VocabularySize);
        var rowLoss = workspace.Get<float>("row-loss", Math.Max(n, 1)).Slice(0, n);
        if (n > 0)
            softmax.ForwardBackward(stream, hidden, Weight.Value, Bias.Value, targets.Device, rowLoss, lossScale, gradHidden, Weight.Gradient, Bias.Gradient);
        SoftmaxRows.WriteLoss(device, stream, rowLoss, loss);
    }

    public double Loss(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets)
    {
        int n = rows.CheckShapes(hidden, targets, null, HiddenSize);
        rows.ReadTargets(stream, targets, VocabularySize);
        if (n == 0) return 0;
        var rowLoss = workspace.Get<float>("row-loss", n);
        softmax.Forward(stream, hidden, Weight.Value, Bias.Value, targets, rowLoss);
        return rows.SumLosses(stream, rowLoss);
    }

    public void LogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<float> output)
    {
        int n = rows.CheckShapes(hidden, null, null, HiddenSize);
        Shape.Check("full softmax: log-probabilities", output.Shape, new Shape(n, VocabularySize));
        softmax.LogProbabilities(stream, hidden, Weight.Value, Bias.Value, output.View, VocabularySize, null, 0);
    }

    public void TargetLogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> output)
    {
        int n = rows.CheckShapes(hidden, targets, null, HiddenSize);
        Shape.Check("full softmax: target log-probabilities", output.Shape, new Shape(n));
        rows.ReadTargets(stream, targets, VocabularySize);
        if (n == 0) return;
        var rowLoss = workspace.Get<float>("row-loss", n);
        softmax.Forward(stream, hidden, Weight.Value, Bias.Value, targets, rowLoss);
        device.Kernels(rt => new ElementwiseKernels(rt)).Axpby(stream, -1f, rowLoss.View, 0f, output.View);
    }

    public void Dispose()
    {
        workspace.Dispose();
        if (!ownsParameters) return;
        Weight.Dispose();
        Bias.Dispose();
    }
}
