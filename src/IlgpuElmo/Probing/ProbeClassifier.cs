using System.Numerics.Tensors;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;
using IlgpuElmo.Training;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Probing;

/// <summary>
/// A softmax classifier over one layer's token vectors, or over a ScalarMix of all layers, optionally
/// behind a fixed per-feature affine map (standardisation with the training tokens' statistics): the
/// classifier stays linear in each layer. Trained with Adam on our kernels (gather of the batch rows,
/// the full softmax head, ScalarMix's backward).
/// </summary>
sealed class ProbeClassifier : IDisposable
{
    readonly ComputeDevice device;
    readonly FullSoftmaxHead head;
    readonly EmbeddingKernels gather;
    readonly ElementwiseKernels elementwise;
    readonly int width, layers, layer;
    readonly Workspace workspace;
    readonly DeviceTensor<float>? scale, shift;

    /// <param name="standardization">Scale and shift [L * W] applied to every gathered vector, or null for the raw vectors.</param>
    public ProbeClassifier(ComputeDevice device, int tagCount, int width, int layers, bool mix, int layer, (float[] Scale, float[] Shift)? standardization)
    {
        this.device = device;
        this.width = width;
        this.layers = layers;
        this.layer = layer;
        head = new FullSoftmaxHead(device, tagCount, width);
        Mix = mix ? new ScalarMix(device, layers, layerNorm: false, name: "probe") : null;
        gather = device.Kernels(rt => new EmbeddingKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        if (standardization is var (s, b))
        {
            scale = device.Upload<float>(s, layers * width);
            shift = device.Upload<float>(b, layers * width);
        }
    }

    public ScalarMix? Mix { get; }

    IEnumerable<Parameter> Parameters => Mix is null ? head.Parameters : head.Parameters.Concat(Mix.Parameters);

    /// <summary>Trains on the tokens with a known tag; returns the mean training loss (cross-entropy) of each pass.</summary>
    public double[] Train(ProbeFeatures data, PosProbeOptions options, string stage, IProgress<ProbeProgress>? progress)
    {
        using var optimizer = new Optimizer(device, Parameters, new OptimizerOptions(OptimizerKind.Adam, options.LearningRate));
        var schedule = new LearningRateSchedule(0, LearningRateDecay.Linear, options.FinalLearningRateFraction);
        var random = new Random((int)(options.Seed & 0x7fffffff));
        var order = Enumerable.Range(0, data.Count).Where(i => data.HostTags[i] >= 0).ToArray();
        var batchTags = new int[options.BatchSize];
        long stepsPerEpoch = (order.Length + options.BatchSize - 1) / options.BatchSize, totalSteps = stepsPerEpoch * options.Epochs, step = 0;
        var passLosses = new double[options.Epochs];
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            random.Shuffle(order);
            double lossSum = 0;
            for (int start = 0; start < order.Length; start += options.BatchSize, step++)
            {
                int b = Math.Min(options.BatchSize, order.Length - start);
                var rows = workspace.Get<int>("rows", b);
                rows.CopyFrom(device.Stream, order.AsSpan(start, b));
                for (int i = 0; i < b; i++) batchTags[i] = data.HostTags[order[start + i]];
                var targets = workspace.Get<int>("targets", b);
                targets.CopyFrom(device.Stream, batchTags.AsSpan(0, b));
                var hidden = Hidden(data, rows, b);
                var gradHidden = workspace.Get<float>("grad-hidden", b, width);
                lossSum += head.ForwardBackward(device.Stream, hidden, targets, gradHidden, 1f / b);
                Mix?.ParameterBackward(gradHidden);
                optimizer.Step(learningRateScale: (float)schedule.Multiplier(step, totalSteps));
                if (step % 64 == 63) progress?.Report(new ProbeProgress(stage, step + 1, totalSteps, "updates"));
            }
            passLosses[epoch] = lossSum / Math.Max(1, order.Length);
        }
        progress?.Report(new ProbeProgress(stage, totalSteps, totalSteps, "updates"));
        return passLosses;
    }

    /// <summary>The classifier's input for the given rows: one layer's (standardised) vectors, or the mix of all.</summary>
    DeviceTensor<float> Hidden(ProbeFeatures data, DeviceTensor<int> rows, int b)
    {
        if (Mix is null)
        {
            var hidden = workspace.Get<float>("hidden", b, width);
            GatherLayer(data, layer, rows, hidden.View);
            return hidden;
        }
        var stacked = workspace.Get<float>("stacked", layers, b, width);
        for (int l = 0; l < layers; l++)
            GatherLayer(data, l, rows, stacked.View.SubView((long)l * b * width, (long)b * width));
        var mixed = workspace.Get<float>("mixed", b, width);
        Mix.Forward(stacked, null, mixed);
        return mixed;
    }

    void GatherLayer(ProbeFeatures data, int l, DeviceTensor<int> rows, ILGPU.ArrayView<float> output)
    {
        long n = data.Count;
        gather.Gather(device.Stream, data.Layers.View.SubView(l * n * width, n * width), width, rows.View, output);
        if (scale is not null)
            elementwise.ScaleShiftColumns(device.Stream, output, scale.View.SubView((long)l * width, width), shift!.View.SubView((long)l * width, width));
    }

    /// <summary>For every <paramref name="stride"/>-th token in order (0, stride, ...): whether the classifier's most probable tag is its tag.</summary>
    public bool[] Correct(ProbeFeatures data, int stride = 1)
    {
        var correct = new bool[(data.Count + stride - 1) / stride];
        const int chunk = 1024;
        int tags = head.VocabularySize;
        var ids = new int[chunk];
        var host = new float[chunk * tags];
        for (int start = 0; start < correct.Length; start += chunk)
        {
            int b = Math.Min(chunk, correct.Length - start);
            for (int i = 0; i < b; i++) ids[i] = (start + i) * stride;
            var rows = workspace.Get<int>("eval-rows", b);
            rows.CopyFrom(device.Stream, ids.AsSpan(0, b));
            var hidden = Hidden(data, rows, b);
            var logProbs = workspace.Get<float>("log-probs", b, tags);
            head.LogProbabilities(device.Stream, hidden, logProbs);
            logProbs.CopyTo(device.Stream, host.AsSpan(0, b * tags));
            for (int i = 0; i < b; i++)
                correct[start + i] = TensorPrimitives.IndexOfMax<float>(host.AsSpan(i * tags, tags)) == data.HostTags[ids[i]];
        }
        return correct;
    }

    public void Dispose()
    {
        head.Dispose();
        Mix?.Dispose();
        workspace.Dispose();
        scale?.Dispose();
        shift?.Dispose();
    }
}
