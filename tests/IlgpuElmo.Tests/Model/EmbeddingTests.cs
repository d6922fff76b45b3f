using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

public class EmbeddingTests
{
    static readonly string[][] Sentences =
    [
        ["the", "cat", "sat", "on", "the", "mat", "."],
        ["a", "naïve", "北京", "dog", "."],
        ["unseenword"],
        ["my", "friend", "looked", "at", "her", "car", "near", "the", "house", "."],
    ];

    static BidirectionalLanguageModel Model(TempDirectory temp, bool chars)
    {
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        var options = TinyModels.Options(chars, SoftmaxKind.Full) with { NTokensVocab = vocab.Count };
        return BidirectionalLanguageModel.Create(TestDevices.Host, options, vocab);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RaggedBatchesGiveTheVectorsOfOneSentenceAtATime(bool chars)
    {
        using var temp = new TempDirectory();
        using var model = Model(temp, chars);
        var together = model.Embed(Sentences);
        for (int i = 0; i < Sentences.Length; i++)
        {
            var alone = model.Embed([Sentences[i]])[0];
            Assert.Equal(model.LayerCount * Sentences[i].Length * model.Width, alone.Length);
            TestData.AssertClose(together[i], alone.Select(v => (double)v).ToArray(), 1e-5, 1e-6, $"sentence {i}");
        }
        // Layer 0 is the token vector twice; the LSTM layers differ between the two halves.
        var first = together[0];
        int p = model.Width / 2;
        Assert.Equal(first.AsSpan(0, p).ToArray(), first.AsSpan(p, p).ToArray());
    }

    [Fact]
    public void StatefulEmbeddingCarriesEachRowsStateToTheNextBatch()
    {
        using var temp = new TempDirectory();
        using var model = Model(temp, chars: true);
        using var state = model.Lstm.CreateState(2);
        var stateless = model.Embed([Sentences[1], Sentences[3]]);
        model.Embed([Sentences[0], Sentences[2]], state);
        var carried = model.Embed([Sentences[1], Sentences[3]], state);
        int tokenLayer = Sentences[1].Length * model.Width;
        Assert.Equal(stateless[0].AsSpan(0, tokenLayer).ToArray(), carried[0].AsSpan(0, tokenLayer).ToArray());
        Assert.NotEqual(stateless[0].AsSpan(tokenLayer).ToArray(), carried[0].AsSpan(tokenLayer).ToArray());
        state.Clear(TestDevices.Host.Stream);
        Assert.Equal(stateless[1], model.Embed([Sentences[1], Sentences[3]], state)[1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportedWeightsLoadBackToTheSameVectors(bool chars)
    {
        using var temp = new TempDirectory();
        using var model = Model(temp, chars);
        string options = Path.Combine(temp.Path, "options.json"), weights = Path.Combine(temp.Path, "weights.hdf5");
        model.Options.Save(options);
        model.ExportPublished(weights);
        using (var file = WeightFile.Open(weights))
        {
            BilmWeightNames.Check(file, model.Options);
            if (chars) Assert.Equal([261, 8], file.ShapeOf(BilmWeightNames.CharEmbedding));
            Assert.Equal([8 + 8, 4 * 12], file.ShapeOf(BilmWeightNames.LstmKernel(1, 1)));
        }
        using var loaded = BidirectionalLanguageModel.LoadPublished(TestDevices.Host, options, weights, chars ? null : model.Vocabulary);
        var expected = model.Embed(Sentences);
        var actual = loaded.Embed(Sentences);
        for (int i = 0; i < Sentences.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void AWeightFileWithAWrongShapeNamesTheDatasetAndBothShapes()
    {
        using var temp = new TempDirectory();
        using var model = Model(temp, chars: true);
        string options = Path.Combine(temp.Path, "options.json"), weights = Path.Combine(temp.Path, "weights.hdf5");
        model.Options.Save(options);
        using (var writer = new Hdf5Writer(weights))
        {
            foreach (var p in model.Parameters.Where(p => p.Name != BilmWeightNames.CharEmbedding))
                writer.Add(p.Name, p.Value.ToArray(TestDevices.Host.Stream), p.Shape.Dims.ToArray());
            writer.Add(BilmWeightNames.CharEmbedding, new float[261 * 5], [261, 5]);
            writer.Commit();
        }
        var e = Assert.Throws<InputException>(() => BidirectionalLanguageModel.LoadPublished(TestDevices.Host, options, weights));
        Assert.Contains("char_embed", e.Message);
        Assert.Contains("261, 5", e.Message);
        Assert.Contains("261, 8", e.Message);
    }
}

public class TokenCacheTests
{
    [Fact]
    public void EmbeddingWithTheDumpedTokenVectorsGivesTheSameVectors()
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        var options = TinyModels.Options(chars: true, SoftmaxKind.Full) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(TestDevices.Host, options, vocab);
        string[][] sentences = [["the", "cat", "sat", "."], ["a", "dog", "ran", "to", "her", "car", "."]];
        var without = model.Embed(sentences);
        string path = Path.Combine(temp.Path, "tokens.hdf5");
        TokenEmbeddingsFile.Write(path, model.TokenVectors(vocab.Words), vocab.Count, options.TokenDim);
        using var cache = IlgpuElmo.Encoders.TokenVectorCache.Load(TestDevices.Host, path, vocab.Words, options.TokenDim);
        model.TokenCache = cache;
        var with = model.Embed(sentences);
        model.TokenCache = null;
        for (int i = 0; i < sentences.Length; i++)
            TestData.AssertClose(with[i], without[i].Select(v => (double)v).ToArray(), 1e-6, 1e-7, $"sentence {i}");
    }
}
