using IlgpuElmo.Data;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;
using IlgpuElmo.Training;

namespace IlgpuElmo.Probing;

public sealed record PosProbeOptions(int MaxTrainTokens = 100_000, int MaxTestTokens = 100_000, int Epochs = 15,
    int BatchSize = 256, float LearningRate = 0.01f, ulong Seed = 1);

public sealed record ProbeScore(string Name, double Accuracy);

public sealed record PosProbeResult(IReadOnlyList<ProbeScore> Scores, double BaselineAccuracy, int TagCount,
    int TrainTokens, int TestTokens, float[] MixWeights, float MixGamma);

/// <summary>
/// The part-of-speech probe of the ELMo paper's layer analysis: with the biLM frozen, a softmax
/// classifier is trained on each layer's token vectors alone, and one on a learned ScalarMix of all
/// layers (mix weights and gamma trained with it); accuracy is measured on held-out sentences, beside
/// the most-frequent-tag baseline. Classifiers are trained with Adam on our own kernels (gather of the
/// batch rows, the full softmax head, ScalarMix's backward).
/// </summary>
public static class PosProbe
{
    public static PosProbeResult Run(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence> test, PosProbeOptions options, Action<string>? log = null)
    {
        train = Take(train, options.MaxTrainTokens);
        test = Take(test, options.MaxTestTokens);
        var tags = train.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        var tagIds = tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        double baseline = new MostFrequentTagBaseline(train).Accuracy(test);

        log?.Invoke($"embedding {train.Sum(s => s.Words.Length)} training and {test.Sum(s => s.Words.Length)} test tokens");
        using var trainSet = Features.Build(device, embedder, train, tagIds);
        using var testSet = Features.Build(device, embedder, test, tagIds);
        int layers = embedder.LayerCount;
        var scores = new List<ProbeScore>();
        for (int layer = 0; layer < layers; layer++)
        {
            using var classifier = new Classifier(device, tags.Count, embedder.Width, layers, mix: false, layer);
            classifier.Train(trainSet, options);
            scores.Add(new ProbeScore(layer == 0 ? "layer 0 (token)" : $"layer {layer} (LSTM {layer})", classifier.Accuracy(testSet)));
            log?.Invoke($"{scores[^1].Name}: {scores[^1].Accuracy:P2}");
        }
        using var mixed = new Classifier(device, tags.Count, embedder.Width, layers, mix: true, 0);
        mixed.Train(trainSet, options);
        scores.Add(new ProbeScore("scalar mix of all layers", mixed.Accuracy(testSet)));
        log?.Invoke($"{scores[^1].Name}: {scores[^1].Accuracy:P2}");
        return new PosProbeResult(scores, baseline, tags.Count, trainSet.Count, testSet.Count,
            mixed.Mix!.NormalizedWeights(), mixed.Mix.Gamma.Value.ToArray(device.Stream)[0]);
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

        public static Features Build(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> sentences, Dictionary<string, int> tagIds)
        {
            int n = sentences.Sum(s => s.Words.Length), w = embedder.Width, l = embedder.LayerCount;
            var host = new float[(long)l * n * w];
            var hostTags = new int[n];
            int at = 0;
            const int chunk = 256;
            for (int start = 0; start < sentences.Count; start += chunk)
            {
                var part = sentences.Skip(start).Take(chunk).ToList();
                var vectors = embedder.Embed(part.Select(s => s.Words).ToList());
                for (int s = 0; s < part.Count; s++)
                {
                    int tokens = part[s].Words.Length;
                    for (int layer = 0; layer < l; layer++)
                        Array.Copy(vectors[s], (long)layer * tokens * w, host, ((long)layer * n + at) * w, (long)tokens * w);
                    for (int t = 0; t < tokens; t++) hostTags[at + t] = tagIds.GetValueOrDefault(part[s].Tags[t], -1);
                    at += tokens;
                }
            }
            return new Features
            {
                Layers = device.Upload<float>(host, l, n, w),
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

        public void Train(Features data, PosProbeOptions options)
        {
            using var optimizer = new Optimizer(device, Parameters, new OptimizerOptions(OptimizerKind.Adam, options.LearningRate));
            var random = new Random((int)(options.Seed & 0x7fffffff));
            var order = Enumerable.Range(0, data.Count).Where(i => data.HostTags[i] >= 0).ToArray();
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                random.Shuffle(order);
                for (int start = 0; start < order.Length; start += options.BatchSize)
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
                    optimizer.Step();
                }
            }
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

        public double Accuracy(Features data)
        {
            int right = 0;
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
                    if (best == data.HostTags[start + i]) right++;
                }
            }
            return data.Count == 0 ? 0 : (double)right / data.Count;
        }

        public void Dispose()
        {
            head.Dispose();
            Mix?.Dispose();
            workspace.Dispose();
        }
    }
}
