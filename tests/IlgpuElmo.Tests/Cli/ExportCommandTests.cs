using System.Text.Json.Nodes;
using IlgpuElmo.Cli;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Formats;
using IlgpuElmo.Tests.Model;

namespace IlgpuElmo.Tests.Cli;

/// <summary>`elmo export` end to end: the published files, and loading them back through --options --weights.</summary>
public class ExportCommandTests
{
    static int Elmo(TextWriter error, params string[] args) => Program.Run(args, error);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnExportLoadsBackToTheSameVectorsAndSaysWhatItLeftOut(bool chars)
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        string options = Path.Combine(temp.Path, "options.json");
        var trained = TinyModels.Options(chars, chars ? SoftmaxKind.Adaptive : SoftmaxKind.Full);
        trained.Save(options);
        string run = Path.Combine(temp.Path, "run"), export = Path.Combine(temp.Path, "export");
        var error = new StringWriter();
        Assert.Equal(0, Elmo(error, "train", "--train", corpus, "--options", options, "--min-count", "1", "--steps", "3", "--out", run));

        string printed;
        using (var console = new CapturedConsole())
        {
            Assert.Equal(0, Elmo(error, "export", "--model", run, "--out", export));
            printed = console.Output;
        }
        Assert.Contains(chars ? "softmax kind adaptive" : "word-input model", printed);
        Assert.Contains("softmax.hdf5", printed);

        // weights.hdf5 holds exactly the published datasets; the softmax is beside it.
        var runOptions = BilmOptions.Load(Path.Combine(run, "options.json")).Options;
        using (var weights = WeightFile.Open(Path.Combine(export, "weights.hdf5")))
        {
            Assert.Equal(BilmWeightNames.Expected(runOptions).Select(s => s.Name).Order(), weights.DatasetNames().Select(n => n.TrimStart('/')).Order());
            BilmWeightNames.Check(weights, runOptions);
        }
        using (var softmax = WeightFile.Open(Path.Combine(export, "softmax.hdf5")))
            Assert.Contains(softmax.DatasetNames(), n => n.TrimStart('/').StartsWith(chars ? "adaptive/" : "softmax/"));
        var published = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "options.json")))!.AsObject();
        foreach (var own in new[] { "softmax", "optimizer", "learning_rate", "seed", "precision" }) Assert.False(published.ContainsKey(own), own);
        if (chars) Assert.Equal(262, published["char_cnn"]!["n_characters"]!.GetValue<int>());
        Assert.Equal(File.ReadAllLines(Path.Combine(run, "vocab.txt")), File.ReadAllLines(Path.Combine(export, "vocab.txt")));

        string sentences = temp.File("sentences.txt", "the cat sat on the mat .\na dog ran to her car .\nunseen words here\n");
        string fromRun = Path.Combine(temp.Path, "run.hdf5"), fromExport = Path.Combine(temp.Path, "export.hdf5");
        Assert.Equal(0, Elmo(error, "embed", "--model", run, "--input", sentences, "--out", fromRun));
        string[] publishedModel = chars
            ? ["--options", Path.Combine(export, "options.json"), "--weights", Path.Combine(export, "weights.hdf5")]
            : ["--options", Path.Combine(export, "options.json"), "--weights", Path.Combine(export, "weights.hdf5"), "--vocab", Path.Combine(export, "vocab.txt")];
        Assert.Equal(0, Elmo(error, ["embed", .. publishedModel, "--input", sentences, "--out", fromExport]));
        using (var a = WeightFile.Open(fromRun))
        using (var b = WeightFile.Open(fromExport))
        {
            for (int line = 0; line < 3; line++)
            {
                var expected = a.Read(line.ToString(), out var shape);
                var actual = b.Read(line.ToString(), shape);
                Assert.Equal(shape.Aggregate(1, (x, y) => x * y), actual.Length);
                for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6, $"line {line} value {i}: {expected[i]} vs {actual[i]}");
            }
        }

        // With the complete options (our keys) and the vocabulary, the export's softmax gives the run's perplexity.
        string Perplexity(params string[] model)
        {
            using var console = new CapturedConsole();
            Assert.Equal(0, Elmo(error, ["eval", .. model, "--test", corpus]));
            return console.Output.Split('\n').First(l => l.StartsWith("perplexity:"));
        }
        string runPerplexity = Perplexity("--model", run), exportedWeights = Path.Combine(export, "weights.hdf5");
        Assert.Equal(runPerplexity, Perplexity("--options", Path.Combine(export, "elmo-options.json"), "--weights", exportedWeights, "--vocab", Path.Combine(export, "vocab.txt")));

        // Without --vocab the export's vocab.txt beside the weights is used, never a placeholder vocabulary.
        Assert.Equal(runPerplexity, Perplexity("--options", Path.Combine(export, "elmo-options.json"), "--weights", exportedWeights));
        if (chars)
        {
            // bilm-tf's options.json cannot say the softmax is adaptive: refused, naming the complete options.
            var refused = new StringWriter();
            Assert.Equal(2, Elmo(refused, "eval", "--options", Path.Combine(export, "options.json"), "--weights", exportedWeights, "--test", corpus));
            Assert.Contains($"no trained softmax of the shapes this model needs", refused.ToString());
            Assert.Contains($"--options {Path.Combine(export, "elmo-options.json")}", refused.ToString());
        }
        else Assert.Equal(runPerplexity, Perplexity("--options", Path.Combine(export, "options.json"), "--weights", exportedWeights));

        File.Delete(Path.Combine(export, "vocab.txt"));
        var noVocabulary = new StringWriter();
        Assert.Equal(2, Elmo(noVocabulary, "eval", "--options", Path.Combine(export, "elmo-options.json"), "--weights", exportedWeights, "--test", corpus));
        Assert.Contains("perplexity needs the vocabulary the softmax was trained with (its rows) and there is no vocab.txt beside the weights; give --vocab", noVocabulary.ToString());
    }

    [Fact]
    public void PublishedWeightsWithoutASoftmaxGiveNoPerplexityAndExportNoSoftmax()
    {
        using var temp = new TempDirectory();
        string options = temp.File("published.json", BilmWeightNamesTests.TinyCharOptions);
        string weights = RunSafetyTests.WeightsFixture(), corpus = TinyModels.Corpus(temp, 10, 1);
        var error = new StringWriter();
        Assert.Equal(2, Elmo(error, "eval", "--options", options, "--weights", weights, "--test", corpus));
        Assert.Contains("perplexity needs the vocabulary the softmax was trained with", error.ToString());

        string export = Path.Combine(temp.Path, "export");
        using (var console = new CapturedConsole())
        {
            Assert.Equal(0, Elmo(error, "export", "--options", options, "--weights", weights, "--out", export));
            Assert.Contains("exported to " + export + ": options.json, weights.hdf5, elmo-options.json", console.Output);
            Assert.Contains("the model has no trained softmax", console.Output);
        }
        Assert.False(File.Exists(Path.Combine(export, "softmax.hdf5")));
        Assert.False(File.Exists(Path.Combine(export, "vocab.txt")));
        error = new StringWriter();
        Assert.Equal(2, Elmo(error, "eval", "--options", Path.Combine(export, "elmo-options.json"), "--weights", Path.Combine(export, "weights.hdf5"), "--test", corpus));
        Assert.Contains("perplexity needs the vocabulary", error.ToString());

        // With a vocabulary but still no softmax: refused too, saying where a softmax would be.
        string vocab = temp.File("vocab.txt", "<S>\n</S>\n<UNK>\nthe\n");
        error = new StringWriter();
        Assert.Equal(2, Elmo(error, "eval", "--options", options, "--weights", weights, "--vocab", vocab, "--test", corpus));
        Assert.Contains("no trained softmax of the shapes this model needs (softmax/W [4, ", error.ToString());
        Assert.Contains("Published bilm-tf weights have no softmax", error.ToString());
    }
}
