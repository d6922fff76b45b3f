using ILGPU.Runtime;
using IlgpuElmo.Data;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;
using IlgpuElmo.Training;

namespace IlgpuElmo.Probing;

/// <summary>
/// Probe settings. By default the classifiers and the baseline learn from the whole train split and are
/// scored on the whole test split; the learning rate falls linearly to <see cref="FinalLearningRateFraction"/>
/// of <see cref="LearningRate"/> over the run, so a few passes over many tokens converge.
/// </summary>
public sealed record PosProbeOptions(int MaxTrainTokens = int.MaxValue, int MaxTestTokens = int.MaxValue, int Epochs = 3,
    int BatchSize = 512, float LearningRate = 0.005f, float FinalLearningRateFraction = 0.05f, ulong Seed = 1);

public sealed record ProbeScore(string Name, TaggingAccuracy Accuracy);

/// <param name="UnseenTokens">Test tokens whose word is not in the training tokens.</param>
/// <param name="AmbiguousTokens">Test tokens whose word has more than one tag in the training tokens.</param>
public sealed record PosProbeResult(IReadOnlyList<ProbeScore> Scores, TaggingAccuracy Baseline, int TagCount,
    int TrainTokens, int TestTokens, int UnseenTokens, int AmbiguousTokens, float[] MixWeights, float MixGamma);

/// <summary>
/// The part-of-speech probe of the ELMo paper's layer analysis: with the biLM frozen, a softmax
/// classifier is trained on each layer's token vectors alone, and one on a learned ScalarMix of all
/// layers (mix weights and gamma trained with it); accuracy is measured on held-out sentences, beside
/// the most-frequent-tag baseline learnt from the same training tokens. Accuracy is reported on all test
/// tokens and separately on words unseen in training and on ambiguous words (more than one tag in
/// training), where word identity alone cannot be right. Classifiers are trained with Adam on our own
/// kernels (gather of the batch rows, the full softmax head, ScalarMix's backward).
/// </summary>
public static class PosProbe
{
    public static PosProbeResult Run(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence> test, PosProbeOptions options, Action<string>? log = null, IProgress<ProbeProgress>? progress = null)
    {
        train = Take(train, options.MaxTrainTokens);
        test = Take(test, options.MaxTestTokens);
        var tags = train.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        var tagIds = tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        var baseline = new MostFrequentTagBaseline(train);
        var groups = new TestTokenGroups(baseline, test);
        var baselineAccuracy = TaggingAccuracy.From(baseline.Correct(test), groups);

        log?.Invoke($"embedding {train.Sum(s => s.Words.Length)} training and {groups.Count} test tokens");
        using var trainSet = Features.Build(device, embedder, train, tagIds, "embedding training tokens", progress);
        using var testSet = Features.Build(device, embedder, test, tagIds, "embedding test tokens", progress);
        int layers = embedder.LayerCount;
        var scores = new List<ProbeScore>();
        TaggingAccuracy TrainAndScore(Classifier classifier, string name)
        {
            classifier.Train(trainSet, options, name, progress);
            var accuracy = TaggingAccuracy.From(classifier.Correct(testSet), groups);
            scores.Add(new ProbeScore(name, accuracy));
            log?.Invoke($"{name}: {accuracy.All:P2} (unseen words {accuracy.Unseen:P2}, ambiguous words {accuracy.Ambiguous:P2})");
            return accuracy;
        }
        for (int layer = 0; layer < layers; layer++)
        {
            using var classifier = new Classifier(device, tags.Count, embedder.Width, layers, mix: false, layer);
            TrainAndScore(classifier, layer == 0 ? "layer 0 (token)" : $"layer {layer} (LSTM {layer})");
        }
        using var mixed = new Classifier(device, tags.Count, embedder.Width, layers, mix: true, 0);
        TrainAndScore(mixed, "scalar mix of all layers");
        return new PosProbeResult(scores, baselineAccuracy, tags.Count, trainSet.Count, testSet.Count, groups.UnseenCount,
            groups.AmbiguousCount, mixed.Mix!.NormalizedWeights(), mixed.Mix.Gamma.Value.ToArray(device.Stream)[0]);
    }

    static IReadOnlyList<TaggedSentence> Take(IReadOnlyList<TaggedSentence> sentences, int maxTokens)
    {
        var result = new List<TaggedSentence>();
        int tokens = 0;
        foreach (var s in sentences)
        {
            if (s.Words.Length == 0) continue;
            if (tokens + s.Words.Length > maxTokens && result.Count > 0) break;
            result.Add(s);
            tokens += s.Words.Length;
        }
        return result;
    }

    /// <summary>Every token's layer vectors on the device, [L, N, W], and its tag id (-1: a tag unseen in training).</summary>
    sealed class Features : IDisposable
    {
        public required DeviceTensor<float> Layers { get; init; }
        public required DeviceTensor<int> Tags { get; init; }
        public required int[] HostTags { get; init; }
        public int Count => HostTags.Length;

        /// <summary>
        /// Embeds the sentences a chunk at a time, shortest first (a chunk is padded to its longest sentence,
        /// so chunks of similar lengths waste little), and copies each sentence's layers straight to its
        /// place in the device tensor (no host copy of the whole set: the train split's is gigabytes).
        /// </summary>
        public static Features Build(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> sentences,
            Dictionary<string, int> tagIds, string stage, IProgress<ProbeProgress>? progress)
        {
            int n = sentences.Sum(s => s.Words.Length), w = embedder.Width, l = embedder.LayerCount;
            var layers = device.Allocate<float>(new Shape(l, n, w), "probe features");
            var hostTags = new int[n];
            var firstToken = new int[sentences.Count];
            for (int i = 1; i < sentences.Count; i++) firstToken[i] = firstToken[i - 1] + sentences[i - 1].Words.Length;
            var byLength = Enumerable.Range(0, sentences.Count).OrderBy(i => sentences[i].Words.Length).ToArray();
            int done = 0;
            const int chunk = 256;
            for (int start = 0; start < byLength.Length; start += chunk)
            {
                var part = byLength.AsSpan(start, Math.Min(chunk, byLength.Length - start)).ToArray();
                var vectors = embedder.Embed(part.Select(i => sentences[i].Words).ToList());
                for (int s = 0; s < part.Length; s++)
                {
                    var sentence = sentences[part[s]];
                    int tokens = sentence.Words.Length, at = firstToken[part[s]];
                    for (int layer = 0; layer < l; layer++)
                        layers.View.SubView(((long)layer * n + at) * w, (long)tokens * w)
                            .CopyFromCPU(device.Stream, vectors[s].AsSpan(layer * tokens * w, tokens * w));
                    for (int t = 0; t < tokens; t++) hostTags[at + t] = tagIds.GetValueOrDefault(sentence.Tags[t], -1);
                    done += tokens;
                }
                progress?.Report(new ProbeProgress(stage, done, n, "tokens"));
            }
            device.Stream.Synchronize();
            return new Features
            {
                Layers = layers,
                Tags = device.Upload<int>(hostTags, n),
                HostTags = hostTags,
            };
        }

        public void Dispose()
        {
            Layers.Dispose();
            Tags.Dispose();
        }
    }

    /// <summary>A softmax classifier over one layer, or over a ScalarMix of all layers.</summary>
    sealed class Classifier : IDisposable
    {
        readonly ComputeDevice device;
        readonly FullSoftmaxHead head;
        readonly EmbeddingKernels gather;
        readonly int width, layers, layer;
        readonly Workspace workspace;

        public Classifier(ComputeDevice device, int tagCount, int width, int layers, bool mix, int layer)
        {
            this.device = device;
            this.width = width;
            this.layers = layers;
            this.layer = layer;
            head = new FullSoftmaxHead(device, tagCount, width);
            Mix = mix ? new ScalarMix(device, layers, layerNorm: false, name: "probe") : null;
            gather = device.Kernels(rt => new EmbeddingKernels(rt));
            workspace = new Workspace(device);
        }

        public ScalarMix? Mix { get; }

        IEnumerable<Parameter> Parameters => Mix is null ? head.Parameters : head.Parameters.Concat(Mix.Parameters);

        public void Train(Features data, PosProbeOptions options, string stage, IProgress<ProbeProgress>? progress)
        {
            using var optimizer = new Optimizer(device, Parameters, new OptimizerOptions(OptimizerKind.Adam, options.LearningRate));
            var schedule = new LearningRateSchedule(0, LearningRateDecay.Linear, options.FinalLearningRateFraction);
            var random = new Random((int)(options.Seed & 0x7fffffff));
            var order = Enumerable.Range(0, data.Count).Where(i => data.HostTags[i] >= 0).ToArray();
            long stepsPerEpoch = (order.Length + options.BatchSize - 1) / options.BatchSize, totalSteps = stepsPerEpoch * options.Epochs, step = 0;
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                random.Shuffle(order);
                for (int start = 0; start < order.Length; start += options.BatchSize, step++)
                {
                    int b = Math.Min(options.BatchSize, order.Length - start);
                    var rows = workspace.Get<int>("rows", b);
                    rows.CopyFrom(device.Stream, order.AsSpan(start, b));
                    var targets = workspace.Get<int>("targets", b);
                    targets.CopyFrom(device.Stream, order.AsSpan(start, b).ToArray().Select(i => data.HostTags[i]).ToArray());
                    var hidden = Hidden(data, rows, b);
                    var gradHidden = workspace.Get<float>("grad-hidden", b, width);
                    head.ForwardBackward(device.Stream, hidden, targets, gradHidden, 1f / b);
                    if (Mix is not null) Mix.Backward(gradHidden, workspace.Get<float>("grad-layers", layers, b, width));
                    optimizer.Step(learningRateScale: (float)schedule.Multiplier(step, totalSteps));
                    if (step % 64 == 63) progress?.Report(new ProbeProgress(stage, step + 1, totalSteps, "updates"));
                }
            }
            progress?.Report(new ProbeProgress(stage, totalSteps, totalSteps, "updates"));
        }

        /// <summary>The classifier's input for the given rows: one layer's vectors, or the mix of all.</summary>
        DeviceTensor<float> Hidden(Features data, DeviceTensor<int> rows, int b)
        {
            int n = data.Count;
            if (Mix is null)
            {
                var hidden = workspace.Get<float>("hidden", b, width);
                gather.Gather(device.Stream, data.Layers.View.SubView((long)layer * n * width, (long)n * width), width, rows.View, hidden.View);
                return hidden;
            }
            var stacked = workspace.Get<float>("stacked", layers, b, width);
            for (int l = 0; l < layers; l++)
                gather.Gather(device.Stream, data.Layers.View.SubView((long)l * n * width, (long)n * width), width, rows.View,
                    stacked.View.SubView((long)l * b * width, (long)b * width));
            var mixed = workspace.Get<float>("mixed", b, width);
            Mix.Forward(stacked, null, mixed);
            return mixed;
        }

        /// <summary>For each token in order: whether the classifier's most probable tag is its tag.</summary>
        public bool[] Correct(Features data)
        {
            var correct = new bool[data.Count];
            const int chunk = 1024;
            for (int start = 0; start < data.Count; start += chunk)
            {
                int b = Math.Min(chunk, data.Count - start);
                var rows = workspace.Get<int>("eval-rows", b);
                rows.CopyFrom(device.Stream, Enumerable.Range(start, b).ToArray());
                var hidden = Hidden(data, rows, b);
                var logProbs = workspace.Get<float>("log-probs", b, head.VocabularySize);
                head.LogProbabilities(device.Stream, hidden, logProbs);
                var host = logProbs.ToArray(device.Stream);
                for (int i = 0; i < b; i++)
                {
                    int best = 0;
                    var row = host.AsSpan(i * head.VocabularySize, head.VocabularySize);
                    for (int t = 1; t < row.Length; t++) if (row[t] > row[best]) best = t;
                    correct[start + i] = best == data.HostTags[start + i];
                }
            }
            return correct;
        }

        public void Dispose()
        {
            head.Dispose();
            Mix?.Dispose();
            workspace.Dispose();
        }
    }
}
