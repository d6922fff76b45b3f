using IlgpuElmo.Formats;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Formats;

namespace IlgpuElmo.Tests.Model;

public class BilmWeightNamesTests
{
    /// <summary>The options of Fixtures/bilm_weights_tiny.hdf5 (see make_bilm_weights_fixture.py).</summary>
    public const string TinyCharOptions = """
        {"lstm": {"use_skip_connections": true, "projection_dim": 8, "cell_clip": 3, "proj_clip": 3, "dim": 16, "n_layers": 2},
         "char_cnn": {"activation": "relu", "filters": [[1, 4], [2, 6]], "n_highway": 1, "embedding": {"dim": 4},
                      "n_characters": 262, "max_characters_per_token": 50}}
        """;

    [Fact]
    public void OriginalElmoNamesAndShapes()
    {
        var (options, warnings) = BilmOptions.Parse("""
            {"lstm": {"use_skip_connections": true, "projection_dim": 512, "cell_clip": 3, "proj_clip": 3, "dim": 4096, "n_layers": 2},
             "char_cnn": {"activation": "relu", "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                          "n_highway": 2, "embedding": {"dim": 16}, "n_characters": 262, "max_characters_per_token": 50}}
            """);
        Assert.Empty(warnings);
        var specs = BilmWeightNames.Expected(options).ToDictionary(s => s.Name, s => s.Shape);
        Assert.Equal([261, 16], specs["char_embed"]);
        Assert.Equal([1, 7, 16, 1024], specs["CNN/W_cnn_6"]);
        Assert.Equal([1024], specs["CNN/b_cnn_6"]);
        Assert.Equal([2048, 2048], specs["CNN_high_1/W_transform"]);
        Assert.Equal([2048], specs["CNN_high_0/b_carry"]);
        Assert.Equal([2048, 512], specs["CNN_proj/W_proj"]);
        Assert.Equal([512], specs["CNN_proj/b_proj"]);
        Assert.Equal([1024, 16384], specs["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"]);
        Assert.Equal([1024, 16384], specs["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"]);
        Assert.Equal([16384], specs["RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/B"]);
        Assert.Equal([4096, 512], specs["RNN_0/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0"]);
        Assert.Equal(1 + 14 + 8 + 2 + 12, specs.Count);
        Assert.DoesNotContain(specs.Keys, k => k.Contains("softmax"));
    }

    [Fact]
    public void WordModelsHaveAnEmbeddingTableAndUnprojectedLstmsNoProjection()
    {
        var (options, _) = BilmOptions.Parse("""
            {"n_tokens_vocab": 50, "lstm": {"projection_dim": 8, "dim": 8, "n_layers": 2, "use_skip_connections": false}}
            """);
        var specs = BilmWeightNames.Expected(options).ToDictionary(s => s.Name, s => s.Shape);
        Assert.Equal([50, 8], specs["embedding"]);
        Assert.DoesNotContain("char_embed", specs.Keys);
        Assert.Equal([16, 32], specs["RNN_0/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"]);
        Assert.DoesNotContain(specs.Keys, k => k.EndsWith("W_P_0"));
        var (noVocab, _) = BilmOptions.Parse("""{"lstm": {"projection_dim": 8, "dim": 32}}""");
        Assert.Equal([-1, 8], BilmWeightNames.Expected(noVocab).Single(s => s.Name == "embedding").Shape);
        Assert.Equal([[50, 8], [50]], BilmWeightNames.Softmax(options, 50).Select(s => s.Shape));
    }

    [Fact]
    public void NoProjectionDatasetsWhenTheFiltersAddUpToTheTokenWidth()
    {
        var (options, _) = BilmOptions.Parse("""
            {"lstm": {"projection_dim": 10, "dim": 16},
             "char_cnn": {"activation": "tanh", "filters": [[1, 4], [2, 6]], "embedding": {"dim": 4}, "n_characters": 261, "max_characters_per_token": 50}}
            """);
        var names = BilmWeightNames.Expected(options).Select(s => s.Name).ToList();
        Assert.DoesNotContain(BilmWeightNames.ProjectionWeight, names);
        Assert.DoesNotContain(names, n => n.StartsWith("CNN_high"));
    }

    [Fact]
    public void ReadsEveryDatasetOfAReferenceWrittenWeightFile()
    {
        var (options, _) = BilmOptions.Parse(TinyCharOptions);
        using var file = WeightFile.Open(TempFolder.Fixture("bilm_weights_tiny.hdf5"));
        BilmWeightNames.Check(file, options);
        var specs = BilmWeightNames.Expected(options);
        Assert.Equal(specs.Count, file.DatasetNames().Count);
        for (int k = 0; k < specs.Count; k++)
        {
            var values = file.Read(specs[k].Name, specs[k].Shape);
            for (int i = 0; i < values.Length; i++)
                Assert.Equal(Math.Round((i * 7 + k * 13) % 101 / 100.0 - 0.5, 4), values[i], 1e-6);
        }
    }

    [Fact]
    public void CheckListsEveryMismatch()
    {
        var (options, _) = BilmOptions.Parse(TinyCharOptions.Replace("\"dim\": 16", "\"dim\": 32").Replace("\"n_highway\": 1", "\"n_highway\": 2"));
        using var file = WeightFile.Open(TempFolder.Fixture("bilm_weights_tiny.hdf5"));
        var e = Assert.Throws<InputException>(() => BilmWeightNames.Check(file, options));
        Assert.Contains("'CNN_high_1/W_carry'", e.Message);
        Assert.Contains("'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0' has shape [16, 64], expected [16, 128]", e.Message);
        Assert.Contains("bilm_weights_tiny.hdf5", e.Message);
    }
}
