using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Probing;

namespace IlgpuElmo.Tests.Probing;

public class PosProbeTests
{
    /// <summary>
    /// Words a, b, x, y; x is tagged A after a, B after b, C otherwise, so its tag needs context.
    /// Layer 0 sees only the word (as a context-free token vector would); layer 1 also sees the previous word.
    /// </summary>
    sealed class ContextEmbedder : ISentenceEmbedder
    {
        static readonly string[] Words = ["a", "b", "x", "y"];
        public int LayerCount => 2;
        public int Width => 8;

        public IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences) => sentences.Select(s =>
        {
            var v = new float[2 * s.Length * 8];
            for (int t = 0; t < s.Length; t++)
            {
                int w = Array.IndexOf(Words, s[t]);
                v[t * 8 + w] = 1;
                v[(s.Length + t) * 8 + w] = 1;
                if (t > 0) v[(s.Length + t) * 8 + 4 + Array.IndexOf(Words, s[t - 1])] = 1;
            }
            return v;
        }).ToList();
    }

    static List<TaggedSentence> Corpus(int count, int seed)
    {
        var random = new Random(seed);
        string[] words = ["a", "b", "x", "y"];
        return Enumerable.Range(0, count).Select(_ =>
        {
            var s = Enumerable.Range(0, random.Next(1, 12)).Select(_ => words[random.Next(4)]).ToArray(); // varied lengths: the probe embeds them out of order
            var tags = s.Select((w, t) => w switch
            {
                "x" => t > 0 && s[t - 1] == "a" ? "A" : t > 0 && s[t - 1] == "b" ? "B" : "C",
                "a" => "DA",
                "b" => "DB",
                _ => "Y",
            }).ToArray();
            return new TaggedSentence(s, tags);
        }).ToList();
    }

    [Fact]
    public void AContextualLayerBeatsTheTokenLayerWhereTagsNeedContext()
    {
        var reports = new List<ProbeProgress>();
        var result = PosProbe.Run(TestDevices.Host, new ContextEmbedder(), Corpus(300, 1), Corpus(100, 2),
            new PosProbeOptions(Epochs: 30, BatchSize: 64, LearningRate: 0.1f), progress: new Recorder(reports));
        double layer0 = result.Scores[0].Accuracy.All, layer1 = result.Scores[1].Accuracy.All, mix = result.Scores[2].Accuracy.All;
        Assert.True(layer1 > 0.99, $"layer 1 sees the previous word: {layer1:P1}");
        Assert.True(layer0 < 0.95, $"layer 0 cannot separate x's tags: {layer0:P1}");
        Assert.True(mix > layer0 + 0.03, $"the mix ({mix:P1}) uses layer 1 and beats layer 0 ({layer0:P1})");
        Assert.Equal(result.Baseline.All, layer0, 2);
        Assert.Equal(6, result.TagCount);
        Assert.Equal(1f, result.MixWeights.Sum(), 4);

        // Every word is seen in training; only x is ambiguous, and only context resolves it.
        Assert.Equal(0, result.UnseenTokens);
        Assert.True(double.IsNaN(result.Baseline.Unseen));
        Assert.Equal(Corpus(100, 2).Sum(s => s.Words.Count(w => w == "x")), result.AmbiguousTokens);
        Assert.True(result.Scores[1].Accuracy.Ambiguous > 0.99, $"layer 1 on x: {result.Scores[1].Accuracy.Ambiguous:P1}");
        Assert.True(result.Baseline.Ambiguous < 0.75, $"one tag (C, the commonest) for every x: {result.Baseline.Ambiguous:P1}");
        Assert.True(result.Scores[0].Accuracy.Ambiguous < 0.75, $"layer 0 cannot separate x's tags either: {result.Scores[0].Accuracy.Ambiguous:P1}");

        string[] stages = ["embedding training tokens", "embedding test tokens", "layer 0 (token)", "layer 1 (LSTM 1)", "scalar mix of all layers"];
        Assert.Equal(stages, reports.Select(r => r.Stage).Distinct());
        foreach (var stage in stages)
        {
            var done = reports.Where(r => r.Stage == stage).ToList();
            Assert.Equal(done[^1].Total, done[^1].Done);
            Assert.True(done.Zip(done.Skip(1)).All(p => p.First.Done <= p.Second.Done), $"{stage} goes forward");
        }
        Assert.Equal(Corpus(300, 1).Sum(s => s.Words.Length), reports.Last(r => r.Stage == "embedding training tokens").Total);
    }

    [Fact]
    public void TokensOfUnseenWordsAreScoredApart()
    {
        var train = new List<TaggedSentence> { new(["a", "b", "x", "a"], ["DA", "DB", "A", "DA"]) };
        var test = new List<TaggedSentence> { new(["a", "y", "x", "b"], ["DA", "Y", "C", "DB"]) };
        var result = PosProbe.Run(TestDevices.Host, new ContextEmbedder(), train, test, new PosProbeOptions(Epochs: 2, BatchSize: 4));
        Assert.Equal(1, result.UnseenTokens);
        Assert.Equal(0, result.AmbiguousTokens);
        Assert.Equal(0.5, result.Baseline.All); // a, b right; y (unseen) gets the overall most frequent DA; x gets A
        Assert.Equal(0, result.Baseline.Unseen);
        Assert.True(double.IsNaN(result.Baseline.Ambiguous));
    }

    /// <summary>The context embedder's vectors, every feature shifted by 40 and layer 1's context features scaled by 1/1000.</summary>
    sealed class BadlyScaledEmbedder : ISentenceEmbedder
    {
        readonly ContextEmbedder inner = new();
        public int LayerCount => inner.LayerCount;
        public int Width => inner.Width;

        public IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences) => inner.Embed(sentences).Select(v =>
        {
            int tokens = v.Length / (2 * 8);
            return v.Select((x, i) => (i >= tokens * 8 && i % 8 >= 4 ? x / 1000 : x) + 40).ToArray();
        }).ToList();
    }

    [Fact]
    public void StandardisedFeaturesTrainWhereRawOnesAreBadlyScaled()
    {
        using var data = PosProbe.Embed(TestDevices.Host, new BadlyScaledEmbedder(), Corpus(300, 1), Corpus(100, 2));
        var options = new PosProbeOptions(Epochs: 6, BatchSize: 64, LearningRate: 0.05f);
        var standardised = PosProbe.Score(TestDevices.Host, data, options);
        var raw = PosProbe.Score(TestDevices.Host, data, options with { Standardize = false });
        Assert.True(standardised.Scores[1].Accuracy.All > 0.99, $"layer 1, standardised: {standardised.Scores[1].Accuracy.All:P1}");
        Assert.True(raw.Scores[1].Accuracy.All < standardised.Scores[1].Accuracy.All - 0.05,
            $"layer 1, raw ({raw.Scores[1].Accuracy.All:P1}) misses the 1/1000-scaled context the standardised one ({standardised.Scores[1].Accuracy.All:P1}) uses");

        // Scoring leaves the embedded data as it was: the same settings give the same result again.
        var again = PosProbe.Score(TestDevices.Host, data, options);
        Assert.Equal(standardised.Scores.Select(s => s.Accuracy), again.Scores.Select(s => s.Accuracy));

        foreach (var score in standardised.Scores)
        {
            Assert.Equal(options.Epochs, score.PassLosses.Length);
            Assert.True(score.PassLosses[^1] < score.PassLosses[0], $"{score.Name}: training loss falls, {string.Join(", ", score.PassLosses)}");
            Assert.InRange(score.TrainAccuracy, 0.5, 1.0);
        }
        Assert.True(standardised.Scores[1].TrainAccuracy > 0.99, $"layer 1 fits its training tokens: {standardised.Scores[1].TrainAccuracy:P1}");
        Assert.True(standardised.Scores[0].TrainAccuracy < 0.95, $"layer 0 cannot: {standardised.Scores[0].TrainAccuracy:P1}");
    }

    sealed class Recorder(List<ProbeProgress> reports) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress value) => reports.Add(value);
    }
}
