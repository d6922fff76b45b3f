using IlgpuElmo.Cli;
using IlgpuElmo.Cli.Commands;
using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Model;

namespace IlgpuElmo.Tests.Cli.Progress;

/// <summary>The long commands report counts done up to their totals, on stderr, and keep stdout for their results.</summary>
public class ProgressReportingTests
{
    sealed class Recorder : IProgress<long>
    {
        public List<long> Values { get; } = [];
        public void Report(long value) => Values.Add(value);
    }

    static void AssertClimbsTo(long total, List<long> values)
    {
        Assert.NotEmpty(values);
        Assert.True(values.Zip(values.Skip(1)).All(p => p.Second >= p.First), string.Join(", ", values));
        Assert.Equal(total, values[^1]);
    }

    [Fact]
    public void EvaluateTokenVectorsEmbedAndBenchReportUpToTheirTotals()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        var vocab = TinyModels.VocabularyOf(corpus);
        var options = TinyModels.Options(chars: true) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(TestDevices.Host, options, vocab);

        var evaluated = new Recorder();
        var (_, _, tokens) = model.Evaluate(new LmBatcher([corpus], vocab, 3, 5, training: false, seed: 0), evaluated);
        Assert.Equal(LmBatcher.CountTargets([corpus]), tokens); // `elmo eval` shows this count as its total
        AssertClimbsTo(tokens, evaluated.Values);
        Assert.True(evaluated.Values.Count > 10, "one report per window");

        var words = Enumerable.Range(0, 5000).Select(i => $"w{i}").ToList();
        var dumped = new Recorder();
        model.TokenVectors(words, dumped);
        Assert.Equal([4096, 5000], dumped.Values);

        var lines = EmbedCommand.ReadInput(temp.File("s.txt", "the cat sat .\n\na dog ran to her car .\nmy friend slept .\nthe bird .\n"));
        var embedded = new Recorder();
        EmbedCommand.Run(TestDevices.Host, model, lines, Path.Combine(temp.Path, "e.hdf5"), new EmbeddingOutput(), batchSize: 2, stateful: false, embedded);
        AssertClimbsTo(4 + 7 + 4 + 3, embedded.Values);

        var benched = new Recorder();
        BenchCommand.Run(TestDevices.Host, TinyModels.Options(chars: true, SoftmaxKind.Sampled), vocabularySize: 60, steps: 2, warmup: 1, benched);
        Assert.Equal([1, 2, 3], benched.Values);
    }

    [Fact]
    public void ProgressGoesToStderrAndStdoutKeepsOnlyTheResults()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        string options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true).Save(options);
        string run = Path.Combine(temp.Path, "run");
        string sentences = temp.File("sentences.txt", "the cat sat on the mat .\na dog ran to her car .\n");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            Assert.Equal(0, Program.Run(["train", "--train", corpus, "--options", options, "--min-count", "1", "--steps", "2", "--out", run], stderr));
            stdout.GetStringBuilder().Clear();
            stderr.GetStringBuilder().Clear();
            Assert.Equal(0, Program.Run(["eval", "--model", run, "--test", corpus], stderr));
            Assert.Equal(0, Program.Run(["embed", "--model", run, "--input", sentences, "--out", Path.Combine(temp.Path, "e.hdf5")], stderr));
            Assert.Equal(0, Program.Run(["dump-token-embeddings", "--model", run, "--vocab", Path.Combine(run, "vocab.txt"),
                "--out", Path.Combine(temp.Path, "t.hdf5")], stderr));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
        var results = stdout.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Collection(results,
            line => Assert.StartsWith("perplexity: forward", line),
            line => Assert.Contains("tokens per direction in", line),
            line => Assert.StartsWith("2 lines, 14 tokens in", line),
            line => Assert.Contains("words x 8 ->", line));
        string log = stderr.ToString();
        Assert.Contains($"eval, per direction: {LmBatcher.CountTargets([corpus]):N0} tokens in ", log);
        Assert.Contains("embed: 14 tokens in ", log);
        Assert.Contains($"dump-token-embeddings: {File.ReadAllLines(Path.Combine(run, "vocab.txt")).Length} words in ", log);
    }
}
