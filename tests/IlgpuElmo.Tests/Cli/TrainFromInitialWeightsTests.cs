using System.Runtime.CompilerServices;
using IlgpuElmo.Cli;
using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Formats;
using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Cli;

/// <summary>`elmo train --init-options --init-weights` from the tests' tiny published-layout model, and its errors.</summary>
public class TrainFromInitialWeightsTests
{
    const string TrainingSettings = """
        {"batch_size": 3, "unroll_steps": 5, "dropout": 0, "softmax": "full", "optimizer": "adam", "learning_rate": 0.03, "seed": 3,
         "lstm": {"dim": 16, "projection_dim": 8}}
        """;

    static int Elmo(TextWriter error, params string[] args) => Program.Run(args, error);

    static string FixtureWeights([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "Formats", "Fixtures", "bilm_weights_tiny.hdf5");

    /// <summary>The fixture as a published model: options.json and weights.hdf5 in one folder.</summary>
    static (string Options, string Weights) Published(TempDirectory temp)
    {
        string weights = Path.Combine(temp.Path, "published", "weights.hdf5");
        Directory.CreateDirectory(Path.GetDirectoryName(weights)!);
        File.Copy(FixtureWeights(), weights);
        return (temp.File("published/options.json", BilmWeightNamesTests.TinyCharOptions), weights);
    }

    static double HeldOutPerplexity(BidirectionalLanguageModel model, string heldOut)
    {
        var (f, b, tokens) = model.Evaluate(new LmBatcher([heldOut], model.Vocabulary, 3, 5, training: false, seed: 0));
        return EvaluationReport.FromLosses(0, f, b, tokens, 1).MeanPerplexity;
    }

    [Fact]
    public void FineTuningLowersHeldOutPerplexityAndLeavesTheFrozenEncoderBitIdentical()
    {
        using var temp = new TempDirectory();
        var (options, weights) = Published(temp);
        string train = TinyModels.Corpus(temp, 60, 1), heldOut = TinyModels.Corpus(temp, 20, 2);
        string settings = temp.File("training.json", TrainingSettings);
        string run = Path.Combine(temp.Path, "run");
        string log;
        using (var console = new CapturedConsole())
        {
            Assert.Equal(0, Elmo(Console.Error, "train", "--init-options", options, "--init-weights", weights, "--options", settings,
                "--train", train, "--dev", heldOut, "--min-count", "1", "--steps", "30", "--eval-every", "30", "--freeze", "--out", run));
            log = console.Error;
        }
        Assert.Contains("softmax: freshly initialised", log);
        Assert.Contains("token encoder frozen", log);

        // The starting point, rebuilt the way the run built it: the published weights and a fresh softmax from the run's options.
        using var init = ModelInitialization.Open(TestDevices.Host, null, options, weights)!;
        var runOptions = BilmOptions.Load(Path.Combine(run, "options.json")).Options;
        using var start = BidirectionalLanguageModel.Create(TestDevices.Host, runOptions, Vocabulary.Load(Path.Combine(run, "vocab.txt")));
        init.Apply(start);
        using var tuned = BidirectionalLanguageModel.Load(TestDevices.Host, run);
        double before = HeldOutPerplexity(start, heldOut), after = HeldOutPerplexity(tuned, heldOut);
        Assert.True(after < 0.9 * before, $"held-out perplexity {before:F2} before fine-tuning, {after:F2} after");

        var s = TestDevices.Host.Stream;
        var initial = start.Parameters.ToDictionary(p => p.Name);
        foreach (var p in tuned.Encoder.Parameters) Assert.Equal(initial[p.Name].Value.ToArray(s), p.Value.ToArray(s));
        Assert.All(tuned.Lstm.Parameters, p => Assert.NotEqual(initial[p.Name].Value.ToArray(s), p.Value.ToArray(s)));
    }

    [Fact]
    public void ARunFolderStartsARunWithItsSoftmaxWhenTheVocabularyIsTheSame()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1), options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true, SoftmaxKind.Full).Save(options);
        string first = Path.Combine(temp.Path, "first"), second = Path.Combine(temp.Path, "second");
        var error = new StringWriter();
        Assert.Equal(0, Elmo(error, "train", "--train", corpus, "--options", options, "--min-count", "1", "--steps", "2", "--out", first));
        using var console = new CapturedConsole();
        Assert.Equal(0, Elmo(error, "train", "--init", first, "--vocab", Path.Combine(first, "vocab.txt"), "--options", options,
            "--train", corpus, "--steps", "1", "--out", second));
        Assert.Contains("softmax: loaded from run folder", console.Error);
    }

    [Fact]
    public void WrongShapesMissingDatasetsAndOtherArchitecturesAreClearErrors()
    {
        using var temp = new TempDirectory();
        var (options, weights) = Published(temp);
        string train = TinyModels.Corpus(temp, 20, 1);
        string settings = temp.File("training.json", TrainingSettings);

        string Refused(params string[] args)
        {
            var error = new StringWriter();
            Assert.Equal(2, Elmo(error, ["train", .. args, "--train", train, "--min-count", "1", "--steps", "1", "--out", Path.Combine(temp.Path, "never")]));
            return error.ToString();
        }

        string wider = temp.File("wider/options.json", BilmWeightNamesTests.TinyCharOptions.Replace("\"dim\": 16", "\"dim\": 32"));
        string widerSettings = temp.File("wider.json", TrainingSettings.Replace("\"dim\": 16", "\"dim\": 32"));
        string shapes = Refused("--init-options", wider, "--init-weights", weights, "--options", widerSettings);
        Assert.Contains("'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0' has shape [16, 64], expected [16, 128]", shapes);

        string partial = Path.Combine(temp.Path, "partial", "weights.hdf5");
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        using (var source = WeightFile.Open(weights))
        using (var writer = new Hdf5Writer(partial))
        {
            foreach (var name in source.DatasetNames().Where(n => !n.EndsWith(BilmWeightNames.ProjectionBias)))
                writer.Add(name, source.Read(name, out var shape), shape);
            writer.Commit();
        }
        string missing = Refused("--init-options", options, "--init-weights", partial, "--options", settings);
        Assert.Contains("'CNN_proj/b_proj'", missing);
        Assert.Contains("missing", missing);

        string bigger = temp.File("bigger.json", TrainingSettings.Replace("\"dim\": 16", "\"dim\": 64"));
        Assert.Contains("'lstm.dim' is 64", Refused("--init-options", options, "--init-weights", weights, "--options", bigger));
        Assert.Contains("--init-weights", Refused("--init-options", options));
    }
}
