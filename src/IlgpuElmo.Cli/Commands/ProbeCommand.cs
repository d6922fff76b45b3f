using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Probing;
using IlgpuElmo.Reporting;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo probe pos --model M`: the part-of-speech probe on the Brown corpus's tags (train split to fit,
/// test split to score), per layer and for a learned scalar mix, beside the most-frequent-tag baseline.
/// Tag set: Brown's full tags with the -tl, -hl and -nc markers removed.
/// </summary>
static class ProbeCommand
{
    public static Command Create()
    {
        var probe = new Command("probe", "Probe what a trained biLM's layers know");
        probe.Subcommands.Add(CreatePos());
        return probe;
    }

    static Command CreatePos()
    {
        var device = new DeviceArguments();
        var model = new ModelArguments();
        var trainTokens = new Option<int>("--max-train-tokens") { Description = "Training tokens for the classifiers (Brown train split, in order)", DefaultValueFactory = _ => 100_000 };
        var testTokens = new Option<int>("--max-test-tokens") { Description = "Tokens to score (Brown test split, in order)", DefaultValueFactory = _ => 100_000 };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training tokens", DefaultValueFactory = _ => 15 };
        var output = new Option<string?>("--out") { Description = "Folder for probe.json and probe.png (default: the model folder, or the current folder)" };
        var command = new Command("pos", "Part-of-speech probe on the Brown corpus: accuracy of each layer and of a learned scalar mix");
        foreach (var o in new Option[] { trainTokens, testTokens, epochs, output }) command.Options.Add(o);
        model.AddTo(command);
        device.AddTo(command);
        command.SetAction(result =>
        {
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            using var lm = model.Open(result, dev);
            static List<TaggedSentence> Split(CorpusSplit split) => BrownCorpus.Sentences(split)
                .Select(s => s with { Tags = s.Tags.Select(BrownCorpus.NormalizeTag).ToArray() }).ToList();
            var options = new PosProbeOptions(result.GetValue(trainTokens), result.GetValue(testTokens), result.GetValue(epochs));
            var r = PosProbe.Run(dev, lm, Split(CorpusSplit.Train), Split(CorpusSplit.Test), options, m => Console.Error.WriteLine(m));
            string folder = result.GetValue(output) ?? result.GetValue(model.Model) ?? ".";
            Directory.CreateDirectory(folder);
            Console.WriteLine(Table(r));
            var json = new JsonObject
            {
                ["tag_set"] = "Brown tags with -tl/-hl/-nc removed",
                ["tags"] = r.TagCount, ["train_tokens"] = r.TrainTokens, ["test_tokens"] = r.TestTokens,
                ["baseline_most_frequent_tag"] = r.BaselineAccuracy,
                ["accuracy"] = new JsonObject(r.Scores.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)s.Accuracy))),
                ["mix_weights"] = new JsonArray(r.MixWeights.Select(w => (JsonNode)w).ToArray()), ["mix_gamma"] = r.MixGamma,
            };
            AtomicFile.WriteAllText(Path.Combine(folder, "probe.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Charts.Bars(Path.Combine(folder, "probe.png"), "POS tagging accuracy (Brown test split)", "accuracy",
                [("most frequent tag", r.BaselineAccuracy), .. r.Scores.Select(s => (s.Name, s.Accuracy))]);
            Console.WriteLine($"wrote {Path.Combine(folder, "probe.json")} and probe.png");
            return 0;
        });
        return command;
    }

    public static string Table(PosProbeResult r)
    {
        var lines = new List<string>
        {
            $"POS probe: {r.TagCount} tags (Brown, -tl/-hl/-nc removed), {r.TrainTokens} training / {r.TestTokens} test tokens",
            "| representation | accuracy |",
            "|---|---|",
            $"| most frequent tag (baseline) | {r.BaselineAccuracy:P2} |",
        };
        lines.AddRange(r.Scores.Select(s => $"| {s.Name} | {s.Accuracy:P2} |"));
        lines.Add($"mix weights softmax(s): {string.Join(", ", r.MixWeights.Select(w => w.ToString("F3")))}; gamma {r.MixGamma:F3}");
        return string.Join('\n', lines);
    }
}
