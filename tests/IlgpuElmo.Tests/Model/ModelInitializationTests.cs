using IlgpuElmo.Data;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

public class ModelInitializationTests
{
    static BidirectionalLanguageModel Trained(Vocabulary vocab, SoftmaxKind softmax, bool chars, ulong seed) =>
        BidirectionalLanguageModel.Create(TestDevices.Host, TinyModels.Options(chars, softmax) with { NTokensVocab = vocab.Count, Seed = seed }, vocab);

    static float[] Values(Parameter p) => p.Value.ToArray(TestDevices.Host.Stream);

    [Theory]
    [InlineData(true, SoftmaxKind.Adaptive)]
    [InlineData(false, SoftmaxKind.Sampled)]
    public void AnExportStartsANewModelWithEveryWeightIncludingTheSoftmaxOfTheSameVocabulary(bool chars, SoftmaxKind softmax)
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        using var source = Trained(vocab, softmax, chars, seed: 1);
        string export = Path.Combine(temp.Path, "export");
        PublishedExport.Write(source, export);

        using var init = ModelInitialization.Open(TestDevices.Host, null, Path.Combine(export, "options.json"), Path.Combine(export, "weights.hdf5"))!;
        var settings = temp.File("training.json", source.Options.ToJson());
        var (options, _) = init.TrainingOptions(settings, "cpu-small");
        using var target = BidirectionalLanguageModel.Create(TestDevices.Host, options with { NTokensVocab = vocab.Count, Seed = 2 }, init.FixedVocabulary(null) ?? vocab);
        var lines = init.Apply(target);
        Assert.Contains(lines, l => l.StartsWith("softmax: loaded"));
        var expected = source.Parameters.ToDictionary(p => p.Name);
        Assert.Equal(expected.Keys.Order(), target.Parameters.Select(p => p.Name).Order());
        foreach (var p in target.Parameters) Assert.Equal(Values(expected[p.Name]), Values(p));
    }

    [Fact]
    public void AnotherVocabularyGetsAFreshSoftmaxAndSaysWhy()
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        using var source = Trained(vocab, SoftmaxKind.Full, chars: true, seed: 1);
        string export = Path.Combine(temp.Path, "export");
        PublishedExport.Write(source, export);
        using var init = ModelInitialization.Open(TestDevices.Host, null, Path.Combine(export, "options.json"), Path.Combine(export, "weights.hdf5"))!;
        var other = new Vocabulary([Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk, "the", "cat"]);
        using var target = Trained(other, SoftmaxKind.Full, chars: true, seed: 2);
        var fresh = Values(target.Head.Parameters.First());
        var lines = init.Apply(target);
        Assert.Contains(lines, l => l.StartsWith("softmax: freshly initialised") && l.Contains("another vocabulary"));
        Assert.Equal(fresh, Values(target.Head.Parameters.First()));
        Assert.Equal(Values(source.Lstm.Parameters.First()), Values(target.Lstm.Parameters.First()));
    }

    [Fact]
    public void AWordInputModelWithoutItsVocabularyIsAClearError()
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        using var source = Trained(vocab, SoftmaxKind.Full, chars: false, seed: 1);
        string export = Path.Combine(temp.Path, "export");
        PublishedExport.Write(source, export);
        File.Delete(Path.Combine(export, "vocab.txt"));
        var e = Assert.Throws<InputException>(() => ModelInitialization.Open(TestDevices.Host, null, Path.Combine(export, "options.json"), Path.Combine(export, "weights.hdf5")));
        Assert.Contains("vocab.txt", e.Message);
    }
}
