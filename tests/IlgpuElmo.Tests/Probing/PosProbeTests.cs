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
            var s = Enumerable.Range(0, 6).Select(_ => words[random.Next(4)]).ToArray();
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
        var result = PosProbe.Run(TestDevices.Host, new ContextEmbedder(), Corpus(300, 1), Corpus(100, 2),
            new PosProbeOptions(Epochs: 30, BatchSize: 64, LearningRate: 0.1f));
        double layer0 = result.Scores[0].Accuracy, layer1 = result.Scores[1].Accuracy, mix = result.Scores[2].Accuracy;
        Assert.True(layer1 > 0.99, $"layer 1 sees the previous word: {layer1:P1}");
        Assert.True(layer0 < 0.95, $"layer 0 cannot separate x's tags: {layer0:P1}");
        Assert.True(mix > layer0 + 0.03, $"the mix ({mix:P1}) uses layer 1 and beats layer 0 ({layer0:P1})");
        Assert.Equal(result.BaselineAccuracy, layer0, 2);
        Assert.Equal(6, result.TagCount);
        Assert.Equal(1f, result.MixWeights.Sum(), 4);
    }
}
