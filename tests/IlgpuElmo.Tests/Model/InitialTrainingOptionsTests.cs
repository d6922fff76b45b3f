using IlgpuElmo.Model;
using IlgpuElmo.Tests.Formats;

namespace IlgpuElmo.Tests.Model;

public class InitialTrainingOptionsTests
{
    static readonly BilmOptions Initial = BilmOptions.Parse(BilmWeightNamesTests.TinyCharOptions).Options;

    [Fact]
    public void TheArchitectureIsTheInitialModelsAndEverythingElseTheSettings()
    {
        var (options, warnings) = InitialTrainingOptions.Merge(Initial, """
            {"batch_size": 3, "unroll_steps": 5, "dropout": 0.25, "softmax": "full", "optimizer": "adam", "learning_rate": 0.01,
             "n_tokens_vocab": 999, "lstm": {"dim": 16, "cell_clip": 3.0}, "char_cnn": {"n_characters": 261, "filters": [[1, 4], [2, 6]]}}
            """, "training.json", checkArchitecture: true);
        Assert.Empty(warnings);
        Assert.Equal(Initial.Lstm, options.Lstm);
        Assert.Equal(Initial.CharCnn!.Filters, options.CharCnn!.Filters);
        Assert.Equal(262, options.CharCnn.NCharacters);
        Assert.Equal((3, 5, 0.25f, SoftmaxKind.Full, OptimizerKind.Adam, 0.01f),
            (options.BatchSize, options.UnrollSteps, options.Dropout, options.EffectiveSoftmax.Kind, options.Optimizer, options.EffectiveLearningRate));
        Assert.Null(options.NTokensVocab);
    }

    [Theory]
    [InlineData("""{"lstm": {"dim": 32}}""", "'lstm.dim' is 32")]
    [InlineData("""{"lstm": {"n_layers": 1}}""", "'lstm.n_layers' is 1")]
    [InlineData("""{"char_cnn": {"filters": [[1, 4], [3, 6]]}}""", "'char_cnn.filters'")]
    [InlineData("""{"char_cnn": {"embedding": {"dim": 8}}}""", "'char_cnn.embedding.dim' is 8")]
    public void AnArchitectureKeyThatDiffersIsAnErrorNamingIt(string settings, string expected)
    {
        var e = Assert.Throws<InputException>(() => InitialTrainingOptions.Merge(Initial, settings, "training.json", checkArchitecture: true));
        Assert.Contains(expected, e.Message);
        Assert.Contains("training.json", e.Message);
    }

    [Fact]
    public void ACharCnnForAWordInputModelIsAnError()
    {
        var words = BilmOptions.Parse("""{"n_tokens_vocab": 50, "lstm": {"projection_dim": 8, "dim": 16}}""").Options;
        var e = Assert.Throws<InputException>(() => InitialTrainingOptions.Merge(words, BilmWeightNamesTests.TinyCharOptions, "big.json", checkArchitecture: true));
        Assert.Contains("'char_cnn' is", e.Message);
    }

    [Fact]
    public void APresetsArchitectureIsReplacedNotCompared()
    {
        var preset = ModelPresets.CpuSmall;
        var (options, _) = InitialTrainingOptions.Merge(Initial, preset.ToJson(), "preset cpu-small", checkArchitecture: false);
        Assert.Equal(Initial.Lstm, options.Lstm);
        Assert.Equal(Initial.CharCnn!.NFilters, options.CharCnn!.NFilters);
        Assert.Equal((preset.BatchSize, preset.Optimizer, preset.EffectiveSoftmax.Kind), (options.BatchSize, options.Optimizer, options.EffectiveSoftmax.Kind));
    }
}
