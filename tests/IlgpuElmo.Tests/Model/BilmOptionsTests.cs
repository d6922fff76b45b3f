using IlgpuElmo.Encoders;
using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Tests.Model;

public class BilmOptionsTests
{
    [Fact]
    public void ReadsPublishedOptionsAsTheyAre()
    {
        var (o, warnings) = BilmOptions.Parse("""
            {"lstm": {"use_skip_connections": true, "projection_dim": 512, "cell_clip": 3, "proj_clip": 3, "dim": 4096, "n_layers": 2},
             "char_cnn": {"activation": "relu", "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                          "n_highway": 2, "embedding": {"dim": 16}, "n_characters": 262, "max_characters_per_token": 50}}
            """);
        Assert.Empty(warnings);
        Assert.True(o.UsesCharacters);
        Assert.Equal(2048, o.CharCnn!.NFilters);
        Assert.Equal(CharActivation.Relu, o.CharCnn.Activation);
        Assert.Equal(new LstmOptions(4096, 512, 2, 3f, 3f, true), o.Lstm);
        Assert.True(o.Lstm.Projects);
        Assert.Equal(512, o.TokenDim);
        Assert.Equal(SoftmaxKind.Sampled, o.EffectiveSoftmax.Kind);
        Assert.Equal(0.2f, o.EffectiveLearningRate);
    }

    [Fact]
    public void ReadsTrainingOptionsAndOurKeys()
    {
        var (o, warnings) = BilmOptions.Parse("""
            {"bidirectional": true, "dropout": 0.1, "n_tokens_vocab": 1000, "n_negative_samples_batch": 64, "unroll_steps": 10,
             "batch_size": 32, "all_clip_norm_val": 5.0, "n_epochs": 3, "n_train_tokens": 123456789012,
             "lstm": {"dim": 64, "projection_dim": 16, "n_layers": 2, "cell_clip": null, "proj_clip": 3, "use_skip_connections": true},
             "softmax": {"kind": "adaptive", "cutoffs": [100, 500], "div_value": 2},
             "optimizer": "adam", "learning_rate": 0.01, "precision": "tf32", "seed": 7, "my_note": "x",
             "learning_rate_schedule": {"warmup_steps": 40, "decay": "cosine", "final_fraction": 0.1}}
            """, "run/options.json");
        Assert.False(o.UsesCharacters);
        Assert.Equal(1000, o.NTokensVocab);
        Assert.Equal(64, o.NNegativeSamplesBatch);
        Assert.Equal(123456789012L, o.NTrainTokens);
        Assert.Null(o.Lstm.CellClip);
        Assert.Equal(SoftmaxKind.Adaptive, o.Softmax!.Kind);
        Assert.Equal([100, 500], o.Softmax.Cutoffs);
        Assert.Equal(2f, o.Softmax.DivValue);
        Assert.Equal(OptimizerKind.Adam, o.Optimizer);
        Assert.Equal(0.01f, o.EffectiveLearningRate);
        Assert.Equal(Precision.Tf32, o.Precision);
        Assert.Equal(7ul, o.Seed);
        Assert.Equal(new LearningRateSchedule(40, LearningRateDecay.Cosine, 0.1f), o.LearningRateSchedule);
        var warning = Assert.Single(warnings);
        Assert.Contains("'my_note'", warning);
        Assert.Contains("run/options.json", warning);
    }

    [Fact]
    public void UnknownNestedKeysAreWarnings()
    {
        var (_, warnings) = BilmOptions.Parse("""
            {"lstm": {"dim": 8, "projection_dim": 8, "peepholes": true},
             "char_cnn": {"activation": "tanh", "filters": [[1, 8]], "embedding": {"dim": 4, "init": 1}, "n_characters": 261, "max_characters_per_token": 50, "x": 1}}
            """);
        Assert.Equal(3, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("'lstm.peepholes'"));
        Assert.Contains(warnings, w => w.Contains("'char_cnn.embedding.init'"));
        Assert.Contains(warnings, w => w.Contains("'char_cnn.x'"));
    }

    [Theory]
    [InlineData("""{"dropout": 0.1}""", "'lstm'")]
    [InlineData("""{"lstm": {"dim": 8}}""", "'lstm.projection_dim'")]
    [InlineData("""{"lstm": {"dim": -8, "projection_dim": 8}}""", "'lstm.dim'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8, "n_layers": 1.5}}""", "'lstm.n_layers'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8, "cell_clip": -1}}""", "'lstm.cell_clip'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8, "use_skip_connections": "yes"}}""", "'lstm.use_skip_connections'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "dropout": 1.0}""", "'dropout'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "softmax": "hierarchical"}""", "'softmax.kind'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "softmax": {"kind": "adaptive"}}""", "'softmax.cutoffs'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "n_tokens_vocab": 100, "softmax": {"kind": "adaptive", "cutoffs": [50, 40]}}""", "'softmax.cutoffs[1]'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "n_tokens_vocab": 100, "softmax": {"kind": "adaptive", "cutoffs": [50, 100]}}""", "'softmax.cutoffs[1]'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "sample_softmax": false, "softmax": "sampled"}""", "'sample_softmax'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "optimizer": "sgd"}""", "'optimizer'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "precision": "fp16"}""", "'precision'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "seed": -3}""", "'seed'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "bidirectional": false}""", "'bidirectional'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[1, 8]], "embedding": {"dim": 4}, "n_characters": 300, "max_characters_per_token": 50}}""", "'char_cnn.n_characters'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "gelu", "filters": [[1, 8]], "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 50}}""", "'char_cnn.activation'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[1, 0]], "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 50}}""", "'char_cnn.filters[0]'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[1, 8]], "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 5}}""", "'char_cnn.max_characters_per_token' is 5; it must be 50")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[1, 4]], "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 50}}""", "'char_cnn.filters'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[7, 8]], "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 5}}""", "'char_cnn.max_characters_per_token'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "char_cnn": {"activation": "relu", "filters": [[1, 8]], "embedding": {}, "n_characters": 262, "max_characters_per_token": 50}}""", "'char_cnn.embedding.dim'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "learning_rate_schedule": {"decay": "step"}}""", "'learning_rate_schedule.decay'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "learning_rate_schedule": {"warmup_steps": -1}}""", "'learning_rate_schedule.warmup_steps'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "learning_rate_schedule": {"final_fraction": 1.5}}""", "'learning_rate_schedule.final_fraction'")]
    [InlineData("""{"lstm": {"dim": 8, "projection_dim": 8}, "learning_rate_schedule": 0.5}""", "'learning_rate_schedule'")]
    [InlineData("""[1, 2]""", "top level")]
    [InlineData("""{"lstm": """, "not valid JSON")]
    public void InvalidValuesNameTheKey(string json, string named)
    {
        var e = Assert.Throws<InputException>(() => BilmOptions.Parse(json, "opts.json"));
        Assert.Contains(named, e.Message);
        Assert.StartsWith("opts.json", e.Message);
    }

    [Fact]
    public void WrittenOptionsReadBackTheSame()
    {
        var (o, _) = BilmOptions.Parse("""
            {"n_tokens_vocab": 1000, "lstm": {"dim": 64, "projection_dim": 16, "n_layers": 3, "cell_clip": 3, "proj_clip": 3, "use_skip_connections": true},
             "char_cnn": {"activation": "tanh", "filters": [[1, 8], [3, 16]], "n_highway": 1, "embedding": {"dim": 4}, "n_characters": 261, "max_characters_per_token": 50},
             "softmax": {"kind": "adaptive", "cutoffs": [100], "div_value": 4}, "optimizer": "adam", "seed": 3, "dropout": 0.2,
             "learning_rate_schedule": {"warmup_steps": 5, "decay": "linear", "final_fraction": 0.25}}
            """);
        var (back, warnings) = BilmOptions.Parse(o.ToJson());
        Assert.Equal(o.LearningRateSchedule, back.LearningRateSchedule);
        Assert.Empty(warnings);
        Assert.Equal(o.ToJson(), back.ToJson());
        Assert.Equal(o.Lstm, back.Lstm);
        Assert.Equal(o.CharCnn!.Filters, back.CharCnn!.Filters);
        Assert.Equal(o.Softmax!.Cutoffs, back.Softmax!.Cutoffs);
        Assert.Equal(o with { CharCnn = null, Softmax = null, LearningRate = null }, back with { CharCnn = null, Softmax = null, LearningRate = null });
        using var folder = new Formats.TempFolder();
        o.Save(folder.File("options.json"));
        Assert.Equal(o.ToJson(), BilmOptions.Load(folder.File("options.json")).Options.ToJson());
        // Saved over the old file through AtomicFile: the new text whole, no temporary file left beside it.
        (o with { Seed = 9 }).Save(folder.File("options.json"));
        Assert.Equal(9ul, BilmOptions.Load(folder.File("options.json")).Options.Seed);
        Assert.Equal(["options.json"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
        Assert.Throws<InputException>(() => BilmOptions.Load(folder.File("missing.json")));
    }

    [Fact]
    public void AdaptiveCutoffsThatDoNotFitAreFittedToTheVocabulary()
    {
        var preset = new SoftmaxOptions(SoftmaxKind.Adaptive, [1000, 6000], 4f);
        Assert.True(preset.Fits(19423));
        Assert.Same(preset, preset.FitTo(19423));
        Assert.Equal([1000], preset.FitTo(3794).Cutoffs);
        Assert.Equal([12], preset.FitTo(24).Cutoffs);
        Assert.Equal([1], preset.FitTo(3).Cutoffs);
        var sampled = new SoftmaxOptions(SoftmaxKind.Sampled, [], 4f);
        Assert.Same(sampled, sampled.FitTo(10));
    }

    [Fact]
    public void InvalidJsonNamesTheFileAndTheLine()
    {
        var e = Assert.Throws<InputException>(() => BilmOptions.Parse("{\n  \"lstm\": {\n    \"dim\": 4,,\n", "my/options.json"));
        Assert.StartsWith("my/options.json line 3: not valid JSON (", e.Message);
    }

    [Fact]
    public void AKeyGivenTwiceIsAnErrorNamingTheFileAndTheLine()
    {
        var e = Assert.Throws<InputException>(() => BilmOptions.Parse("{\n  \"lstm\": {\"dim\": 8, \"projection_dim\": 8},\n  \"dropout\": 0.1,\n  \"lstm\": {\"dim\": 16}\n}", "my/options.json"));
        Assert.StartsWith("my/options.json: not valid JSON (Duplicate property 'lstm'", e.Message);
    }

    [Fact]
    public void AFolderGivenAsTheOptionsFileIsNamedAsAFolder()
    {
        using var folder = new Formats.TempFolder();
        string path = folder.Path;
        var e = Assert.Throws<InputException>(() => BilmOptions.Load(path));
        Assert.Equal($"Options file '{path}' is a folder; give the file itself, e.g. {Path.Combine(path, "options.json")}.", e.Message);
    }
}

