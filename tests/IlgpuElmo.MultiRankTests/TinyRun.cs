using System.Text.Json.Nodes;
using IlgpuElmo.Formats;
using IlgpuElmo.Model;

namespace IlgpuElmo.MultiRankTests;

/// <summary>A tiny corpus and model options for multi-rank runs, and a run's checkpoint tensors.</summary>
static class TinyRun
{
    public static string Corpus(TempDirectory temp, int sentences = 80)
    {
        var random = new Random(1);
        string[] subjects = ["the cat", "a dog", "the bird", "my friend"];
        string[] verbs = ["sat on", "looked at", "ran to", "slept near"];
        string[] objects = ["the mat", "a tree", "the house", "her car"];
        var lines = Enumerable.Range(0, sentences).Select(_ => $"{subjects[random.Next(4)]} {verbs[random.Next(4)]} {objects[random.Next(4)]} .");
        return temp.File("corpus.txt", string.Join("\n", lines) + "\n");
    }

    /// <summary>Character model with an adaptive softmax (all dense gradients), or words with a sampled softmax (row-sparse ones).</summary>
    public static string Options(TempDirectory temp, bool characters, float dropout = 0.1f, int batch = 4)
    {
        var options = new JsonObject
        {
            ["lstm"] = new JsonObject { ["dim"] = 12, ["projection_dim"] = 8, ["n_layers"] = 2, ["cell_clip"] = 3, ["proj_clip"] = 3, ["use_skip_connections"] = true },
            ["dropout"] = dropout, ["batch_size"] = batch, ["unroll_steps"] = 5, ["n_negative_samples_batch"] = 6,
            ["optimizer"] = "adagrad", ["learning_rate"] = 0.2, ["seed"] = 7,
        };
        if (characters)
        {
            options["char_cnn"] = JsonNode.Parse("""{"embedding": {"dim": 8}, "filters": [[1, 8], [2, 8], [3, 16]], "n_highway": 1, "n_characters": 262, "max_characters_per_token": 50, "activation": "relu"}""");
            options["softmax"] = JsonNode.Parse("""{"kind": "adaptive", "cutoffs": [6, 12], "div_value": 2}""");
        }
        else options["softmax"] = JsonNode.Parse("""{"kind": "sampled"}""");
        return temp.File(characters ? "chars.json" : "words.json", options.ToJsonString());
    }

    public static Dictionary<string, (int[] Shape, float[] Data)> Checkpoint(string run) => TensorArchive.Read(Path.Combine(run, "checkpoint.bin")).Tensors;

    /// <summary>The largest |a - b| / (1 + |b|) over every element of every tensor (same names and shapes required).</summary>
    public static double LargestDifference(Dictionary<string, (int[] Shape, float[] Data)> a, Dictionary<string, (int[] Shape, float[] Data)> b)
    {
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        double largest = 0;
        foreach (var (name, (shape, data)) in b)
        {
            Assert.Equal(shape, a[name].Shape);
            for (int i = 0; i < data.Length; i++)
                largest = Math.Max(largest, Math.Abs(a[name].Data[i] - data[i]) / (1 + Math.Abs(data[i])));
        }
        return largest;
    }
}
