using IlgpuElmo.Encoders;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

public class PublishedExportTests
{
    [Fact]
    public void FiltersAsWideAsTheTokenGetTheIdentityProjectionAllennlpReads()
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        var options = TinyModels.Options(chars: true) with
        {
            CharCnn = new CharCnnOptions(4, [new(1, 4), new(2, 4)], 1, 262, 50, CharActivation.Relu),
            NTokensVocab = vocab.Count,
        };
        using var model = BidirectionalLanguageModel.Create(TestDevices.Host, options, vocab);
        string folder = Path.Combine(temp.Path, "export");
        PublishedExport.Write(model, folder);
        string weights = Path.Combine(folder, PublishedExport.WeightsFile);
        using (var file = WeightFile.Open(weights))
        {
            var projection = file.Read(BilmWeightNames.ProjectionWeight, 8, 8);
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 8; j++) Assert.Equal(i == j ? 1f : 0f, projection[i * 8 + j]);
            Assert.Equal(new float[8], file.Read(BilmWeightNames.ProjectionBias, 8));
        }
        using var loaded = BidirectionalLanguageModel.LoadPublished(TestDevices.Host, Path.Combine(folder, PublishedExport.OptionsFile), weights);
        string[][] sentences = [["the", "cat", "sat", "."], ["unseen"]];
        var expected = model.Embed(sentences);
        var actual = loaded.Embed(sentences);
        for (int i = 0; i < sentences.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    /// <summary>
    /// The export is staged beside its folder and moved in as a whole: afterwards the parent holds the folder
    /// and nothing else; over an earlier export the export's files are replaced (the new weights read back)
    /// and a file of the user's in that folder is kept.
    /// </summary>
    [Fact]
    public void AnExportArrivesWholeAndAReplacedOneKeepsOtherFiles()
    {
        using var temp = new TempDirectory();
        var vocab = TinyModels.VocabularyOf(TinyModels.Corpus(temp, 30, 1));
        var options = TinyModels.Options(chars: true) with { NTokensVocab = vocab.Count };
        string parent = Path.Combine(temp.Path, "exports"), folder = Path.Combine(parent, "model");
        string[][] sentences = [["the", "cat", "sat", "."]];
        using var first = BidirectionalLanguageModel.Create(TestDevices.Host, options, vocab);
        Assert.Contains(PublishedExport.VocabularyFile, PublishedExport.Write(first, folder).Files);
        Assert.Equal(["model"], Directory.GetFileSystemEntries(parent).Select(Path.GetFileName));
        Assert.True(File.Exists(Path.Combine(folder, PublishedExport.FullOptionsFile)));

        string notes = Path.Combine(folder, "notes.txt");
        File.WriteAllText(notes, "mine");
        using var second = BidirectionalLanguageModel.Create(TestDevices.Host, options with { Seed = 99 }, vocab);
        PublishedExport.Write(second, folder);
        Assert.Equal("mine", File.ReadAllText(notes));
        Assert.Equal(["model"], Directory.GetFileSystemEntries(parent).Select(Path.GetFileName));
        using var loaded = BidirectionalLanguageModel.LoadPublished(TestDevices.Host, Path.Combine(folder, PublishedExport.OptionsFile),
            Path.Combine(folder, PublishedExport.WeightsFile));
        Assert.Equal(second.Embed(sentences)[0], loaded.Embed(sentences)[0]);
        Assert.NotEqual(first.Embed(sentences)[0], loaded.Embed(sentences)[0]);
    }

    [Fact]
    public void WhatAllennlpOrBilmTfWouldReadDifferentlyIsListed()
    {
        var options = TinyModels.Options(chars: false) with { Lstm = new LstmOptions(8, 8, 2, 3f, 3f, false), Optimizer = OptimizerKind.Adam };
        var lines = PublishedExport.LeftOut(options);
        Assert.Contains(lines, l => l.Contains("softmax.hdf5"));
        Assert.Contains(lines, l => l.StartsWith("lstm.projection_dim 8 >= lstm.dim 8"));
        Assert.Contains(lines, l => l.StartsWith("use_skip_connections false"));
        Assert.Contains(lines, l => l.StartsWith("optimizer adam"));
        Assert.Contains(lines, l => l.StartsWith("a word-input model"));
        Assert.DoesNotContain(PublishedExport.LeftOut(TinyModels.Options(chars: true) with { Optimizer = OptimizerKind.Adagrad, LearningRate = 0.2f }),
            l => l.StartsWith("optimizer") || l.StartsWith("lstm.") || l.StartsWith("use_skip"));
    }
}
