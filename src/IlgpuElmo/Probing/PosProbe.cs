using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Probing;

/// <summary>
/// Probe settings. By default the classifiers and the baseline learn from the whole train split and are
/// scored on the whole test split; the learning rate falls linearly to <see cref="FinalLearningRateFraction"/>
/// of <see cref="LearningRate"/> over the run, so a few passes over many tokens converge. With
/// <see cref="Standardize"/> every feature is mapped to mean 0 and variance 1 over the training tokens
/// before the classifier (an affine map, so the probe stays linear): the layers' features differ in scale by
/// orders of magnitude, and the classifiers converge in far fewer updates on standardised ones.
/// </summary>
public sealed record PosProbeOptions(int MaxTrainTokens = int.MaxValue, int MaxTestTokens = int.MaxValue, int Epochs = 3,
    int BatchSize = 512, float LearningRate = 0.02f, float FinalLearningRateFraction = 0.05f, bool Standardize = true, ulong Seed = 1);

/// <param name="PassLosses">Mean training cross-entropy of each pass over the training tokens (whether it converged).</param>
/// <param name="TrainAccuracy">Accuracy after training on an evenly spread sample of about <see cref="PosProbe.TrainAccuracySample"/> training tokens (how far it fits them).</param>
public sealed record ProbeScore(string Name, TaggingAccuracy Accuracy, double[] PassLosses, double TrainAccuracy);

/// <param name="UnseenTokens">Test tokens whose word is not in the training tokens.</param>
/// <param name="AmbiguousTokens">Test tokens whose word has more than one tag in the training tokens.</param>
public sealed record PosProbeResult(IReadOnlyList<ProbeScore> Scores, TaggingAccuracy Baseline, int TagCount,
    int TrainTokens, int TestTokens, int UnseenTokens, int AmbiguousTokens, float[] MixWeights, float MixGamma);

/// <summary>
/// The probe's tokens, embedded once: training and test features, the tag ids, the most-frequent-tag
/// baseline learnt from the same training tokens and the unseen/ambiguous grouping of the test tokens.
/// </summary>
public sealed class PosProbeData : IDisposable
{
    public required ProbeFeatures Train { get; init; }
    public required ProbeFeatures Test { get; init; }
    public required IReadOnlyList<string> Tags { get; init; }
    public required TaggingAccuracy Baseline { get; init; }
    public required TestTokenGroups Groups { get; init; }
    public required int LayerCount { get; init; }
    public required int Width { get; init; }

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}

/// <summary>
/// The part-of-speech probe of the ELMo paper's layer analysis: with the biLM frozen, a softmax
/// classifier is trained on each layer's token vectors alone, and one on a learned ScalarMix of all
/// layers (mix weights and gamma trained with it); accuracy is measured on held-out sentences, beside
/// the most-frequent-tag baseline learnt from the same training tokens. Accuracy is reported on all test
/// tokens and separately on words unseen in training and on ambiguous words (more than one tag in
/// training), where word identity alone cannot be right.
/// </summary>
public static class PosProbe
{
    /// <summary>About how many training tokens (every k-th) the training accuracy is measured on.</summary>
    public const int TrainAccuracySample = 100_000;

    public static PosProbeResult Run(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence> test, PosProbeOptions options, Action<string>? log = null, IProgress<ProbeProgress>? progress = null)
    {
        using var data = Embed(device, embedder, Take(train, options.MaxTrainTokens), Take(test, options.MaxTestTokens), log, progress);
        return Score(device, data, options, log, progress);
    }

    /// <summary>Learns the baseline and embeds every training and test token (sentences with no words are dropped).</summary>
    public static PosProbeData Embed(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence> test, Action<string>? log = null, IProgress<ProbeProgress>? progress = null)
    {
        train = Take(train, int.MaxValue);
        test = Take(test, int.MaxValue);
        var tags = train.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        var tagIds = tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        var baseline = new MostFrequentTagBaseline(train);
        var groups = new TestTokenGroups(baseline, test);
        log?.Invoke($"embedding {train.Sum(s => s.Words.Length)} training and {groups.Count} test tokens");
        var trainSet = ProbeFeatures.Build(device, embedder, train, tagIds, "embedding training tokens", progress);
        var testSet = ProbeFeatures.Build(device, embedder, test, tagIds, "embedding test tokens", progress);
        return new PosProbeData
        {
            Train = trainSet, Test = testSet, Tags = tags, Groups = groups,
            Baseline = TaggingAccuracy.From(baseline.Correct(test), groups),
            LayerCount = embedder.LayerCount, Width = embedder.Width,
        };
    }

    /// <summary>Trains and scores a classifier per layer and one on the learned mix.</summary>
    public static PosProbeResult Score(ComputeDevice device, PosProbeData data, PosProbeOptions options, Action<string>? log = null,
        IProgress<ProbeProgress>? progress = null)
    {
        var standardization = options.Standardize ? data.Train.Moments.Standardization() : ((float[], float[])?)null;
        var scores = new List<ProbeScore>();
        void TrainAndScore(ProbeClassifier classifier, string name)
        {
            var passLosses = classifier.Train(data.Train, options, name, progress);
            // Every training token's tag is known (the tag set is the training tokens'); an evenly spread sample
            // of about TrainAccuracySample tokens keeps this check cheaper than the test scoring.
            var trainCorrect = classifier.Correct(data.Train, Math.Max(1, data.Train.Count / TrainAccuracySample));
            double trainAccuracy = trainCorrect.Length == 0 ? double.NaN : (double)trainCorrect.Count(c => c) / trainCorrect.Length;
            var accuracy = TaggingAccuracy.From(classifier.Correct(data.Test), data.Groups);
            scores.Add(new ProbeScore(name, accuracy, passLosses, trainAccuracy));
            log?.Invoke($"{name}: {accuracy.All:P2} (unseen words {accuracy.Unseen:P2}, ambiguous words {accuracy.Ambiguous:P2}); " +
                $"training loss per pass {string.Join(", ", passLosses.Select(l => l.ToString("F4")))}, training accuracy {scores[^1].TrainAccuracy:P2}");
        }
        int layers = data.LayerCount;
        for (int layer = 0; layer < layers; layer++)
        {
            using var classifier = new ProbeClassifier(device, data.Tags.Count, data.Width, layers, mix: false, layer, standardization);
            TrainAndScore(classifier, layer == 0 ? "layer 0 (token)" : $"layer {layer} (LSTM {layer})");
        }
        using var mixed = new ProbeClassifier(device, data.Tags.Count, data.Width, layers, mix: true, 0, standardization);
        TrainAndScore(mixed, "scalar mix of all layers");
        return new PosProbeResult(scores, data.Baseline, data.Tags.Count, data.Train.Count, data.Test.Count, data.Groups.UnseenCount,
            data.Groups.AmbiguousCount, mixed.Mix!.NormalizedWeights(), mixed.Mix.Gamma.Value.ToArray(device.Stream)[0]);
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
}
