using IlgpuElmo.Cli;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Model;

namespace IlgpuElmo.Tests.Cli;

/// <summary>The commands end to end on a tiny corpus and model: train, eval, embed, dump, resume, bad input.</summary>
public class TrainCommandTests
{
    static (string Corpus, string Options) Setup(TempDirectory temp)
    {
        string corpus = TinyModels.Corpus(temp, 40, 1);
        string options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true, SoftmaxKind.Adaptive, dropout: 0.1f).Save(options);
        return (corpus, options);
    }

    static int Elmo(TextWriter error, params string[] args) => Program.Run(args, error);

    [Fact]
    public void TrainWritesTheRunAndTheOtherCommandsUseIt()
    {
        using var temp = new TempDirectory();
        var (corpus, options) = Setup(temp);
        string run = Path.Combine(temp.Path, "run");
        var error = new StringWriter();
        Assert.Equal(0, Elmo(error, "train", "--train", corpus, "--dev", corpus, "--test", corpus, "--options", options,
            "--min-count", "1", "--steps", "6", "--checkpoint-every", "4", "--eval-every", "3", "--out", run));
        foreach (var file in new[] { "options.json", "vocab.txt", "run.json", "checkpoint.bin", "metrics.jsonl", "loss.png", "result.json" })
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} missing; stderr: {error}");
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(6 + 2, metrics.Length);
        Assert.Contains("dev_perplexity", metrics[3]);
        Assert.Contains("unigram_test_perplexity", File.ReadAllText(Path.Combine(run, "result.json")));

        Assert.Equal(0, Elmo(error, "eval", "--model", run, "--test", corpus));

        string sentences = temp.File("sentences.txt", "the cat sat on the mat .\n\na dog ran to her car .\n");
        string embeddings = Path.Combine(temp.Path, "e.hdf5");
        Assert.Equal(0, Elmo(error, "embed", "--model", run, "--input", sentences, "--out", embeddings, "--batch-size", "2"));
        using (var file = WeightFile.Open(embeddings))
        {
            Assert.Equal([3, 7, 16], file.ShapeOf("0"));
            Assert.Equal([3, 0, 16], file.ShapeOf("1"));
            Assert.Equal([3, 7, 16], file.ShapeOf("2"));
        }

        string vocab = Path.Combine(run, "vocab.txt");
        string tokens = Path.Combine(temp.Path, "tokens.hdf5");
        Assert.Equal(0, Elmo(error, "dump-token-embeddings", "--model", run, "--vocab", vocab, "--out", tokens));
        var vectors = TokenEmbeddingsFile.Read(tokens, out int words, out int dim);
        Assert.Equal(File.ReadAllLines(vocab).Length, words);
        Assert.Equal(8, dim);
        Assert.All(vectors, v => Assert.True(float.IsFinite(v)));

        // Resuming with other options is refused; with the run's own it continues to the same step count.
        string other = Path.Combine(temp.Path, "other.json");
        TinyModels.Options(chars: false, SoftmaxKind.Full).Save(other);
        var refused = new StringWriter();
        Assert.Equal(2, Elmo(refused, "train", "--resume", run, "--options", other));
        Assert.Contains("differs", refused.ToString());
    }

    [Fact]
    public void BadCorporaAreClearErrors()
    {
        using var temp = new TempDirectory();
        var (corpus, options) = Setup(temp);
        var error = new StringWriter();
        Assert.Equal(2, Elmo(error, "train", "--train", Path.Combine(temp.Path, "missing", "*.txt"), "--options", options, "--out", Path.Combine(temp.Path, "r1")));
        Assert.Contains("--train", error.ToString());
        string empty = temp.File("empty.txt", "");
        error = new StringWriter();
        Assert.Equal(2, Elmo(error, "train", "--train", empty, "--options", options, "--out", Path.Combine(temp.Path, "r2")));
        Assert.Contains("empty", error.ToString());
    }

    [Fact]
    public void InvalidUtf8AndVeryLongTokensAreHandled()
    {
        using var temp = new TempDirectory();
        var (corpus, options) = Setup(temp);
        string messy = Path.Combine(temp.Path, "messy.txt");
        File.WriteAllBytes(messy, [.. File.ReadAllBytes(corpus), 0xC3, 0x28, (byte)'\n',
            .. System.Text.Encoding.UTF8.GetBytes(new string('x', 80) + " the cat sat .\n")]);
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            Assert.Equal(0, Elmo(error, "train", "--train", messy, "--options", options, "--min-count", "1", "--steps", "2",
                "--out", Path.Combine(temp.Path, "r")));
        }
        finally
        {
            Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
        }
        Assert.Contains("not valid UTF-8", error.ToString());
        Assert.Contains("messy.txt:41", error.ToString());
    }
}

public class BenchCommandTests
{
    [Fact]
    public void TimesTrainingStepsOnSyntheticText()
    {
        var options = TinyModels.Options(chars: true, SoftmaxKind.Sampled);
        var r = IlgpuElmo.Cli.Commands.BenchCommand.Run(TestDevices.Host, options, vocabularySize: 60, steps: 2, warmup: 1);
        Assert.Equal(options.BatchSize * options.UnrollSteps, r.PositionsPerStep);
        Assert.Equal(2 * options.BatchSize * options.UnrollSteps, r.TokensPerStep);
        Assert.True(r.TokensPerSecond > 0 && double.IsFinite(r.TokensPerSecond));
        Assert.Equal(2 * r.PositionsPerSecond, r.TokensPerSecond, 1e-9 * r.TokensPerSecond);
        var report = r.Report().ToList();
        Assert.Contains("ms/step", report[0]);
        Assert.Contains($"batch {options.BatchSize} x unroll {options.UnrollSteps}): {r.PositionsPerStep},", report[1]);
        Assert.Contains($"both directions (2 x {options.BatchSize} x {options.UnrollSteps}): {r.TokensPerStep},", report[2]);
        Assert.Contains("sampled softmax", r.Model);
        Assert.Equal(2, IlgpuElmo.Cli.Program.Run(["bench", "--vocab-size", "3"], TextWriter.Null));
    }

    [Fact]
    public void BreaksAStepIntoItsPhasesAfterTheTiming()
    {
        var options = TinyModels.Options(chars: true, SoftmaxKind.Adaptive);
        var r = IlgpuElmo.Cli.Commands.BenchCommand.Run(TestDevices.Host, options, vocabularySize: 60, steps: 3, warmup: 1, measureFloor: true);
        string[] expected = ["encoder forward", "LSTM forward", "softmax head, forward and backward", "LSTM backward", "encoder backward",
            "optimizer and the loss read"];
        Assert.NotNull(r.Phases);
        Assert.Equal(expected, r.Phases.Select(p => p.Name));
        Assert.All(r.Phases, p => Assert.True(p.Steps == 3 && p.Milliseconds > 0 && double.IsFinite(p.Milliseconds), $"{p}"));
        var report = r.Report().ToList();
        int at = report.FindIndex(line => line.StartsWith("where a step goes (3 more steps"));
        Assert.True(at >= 0, string.Join("\n", report));
        Assert.Equal(expected.Select(name => $"  {name}:"), report.Skip(at + 1).Select(line => line[..(line.IndexOf(':') + 1)]));
    }

    [Fact]
    public void TimesEmbeddingBatchesOfSyntheticSentences()
    {
        var options = TinyModels.Options(chars: true, SoftmaxKind.Sampled);
        var r = IlgpuElmo.Cli.Commands.BenchCommand.RunEmbedding(TestDevices.Host, options, sentenceCount: 3, wordVocabularySize: 1000, batches: 1, warmup: 0);
        Assert.Equal(3, r.Sentences);
        Assert.InRange(r.Tokens, 3 * 5, 3 * 45);
        Assert.True(r.TokensPerSecond > 0 && double.IsFinite(r.TokensPerSecond));
        Assert.Equal(2, IlgpuElmo.Cli.Program.Run(["bench", "--embed", "--sentences", "0"], TextWriter.Null));
    }
}
