using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Probing;
using IlgpuElmo.Reporting;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo probe pos --model M`: the part-of-speech probe on the Brown corpus's tags (the train split to
/// fit, the test split to score, both whole by default), per layer and for a learned scalar mix, beside
/// the most-frequent-tag baseline; accuracy on all tokens, unseen words and ambiguous words.
/// Tag set: Brown's full tags with the -tl, -hl and -nc markers removed. Progress lines go to stderr.
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
        var defaults = new PosProbeOptions();
        var trainTokens = new Option<int?>("--max-train-tokens") { Description = "Training tokens for the classifiers and the baseline (Brown train split, in order; default: all of it)" };
        var testTokens = new Option<int?>("--max-test-tokens") { Description = "Tokens to score (Brown test split, in order; default: all of it)" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training tokens", DefaultValueFactory = _ => defaults.Epochs };
        var learningRate = new Option<float>("--learning-rate") { Description = "The classifiers' Adam learning rate (decayed linearly to a twentieth)", DefaultValueFactory = _ => defaults.LearningRate };
        var batchSize = new Option<int>("--batch-size") { Description = "Training tokens per classifier update", DefaultValueFactory = _ => defaults.BatchSize };
        var raw = new Option<bool>("--no-standardize") { Description = "Train on the raw layer vectors instead of standardising each feature with the training tokens' mean and variance" };
        var output = new Option<string?>("--out") { Description = "Folder for probe.json and probe.png, replaced when there (default: the model folder, or the current folder)" };
        var command = new Command("pos", "Part-of-speech probe on the Brown corpus: accuracy of each layer and of a learned scalar mix");
        foreach (var o in new Option[] { trainTokens, testTokens, epochs, learningRate, batchSize, raw, output }) command.Options.Add(o);
        model.AddTo(command);
        device.AddTo(command);
        command.SetAction(result =>
        {
            string folder = result.GetValue(output) ?? result.GetValue(model.Model) ?? ".";
            CheckOutputs(folder, model.Inputs(result).ToList());
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            using var lm = model.Open(result, dev);
            static List<TaggedSentence> Split(CorpusSplit split) => BrownCorpus.Sentences(split)
                .Select(s => s with { Tags = s.Tags.Select(BrownCorpus.NormalizeTag).ToArray() }).ToList();
            int Positive(Option<int?> option, int fallback) => result.GetValue(option) switch
            {
                null => fallback,
                > 0 and var n => n,
                var n => throw new InputException($"{option.Name} is {n}; give a positive number of tokens (or leave it out for the whole split)."),
            };
            int epochCount = result.GetValue(epochs);
            if (epochCount < 1) throw new InputException($"--epochs is {epochCount}; the classifiers need at least one pass.");
            float rate = result.GetValue(learningRate);
            if (!(rate > 0) || float.IsInfinity(rate)) throw new InputException($"--learning-rate is {rate}; give a positive number such as {defaults.LearningRate}.");
            int batch = result.GetValue(batchSize);
            if (batch < 1) throw new InputException($"--batch-size is {batch}; give a positive number of tokens such as {defaults.BatchSize}.");
            var options = defaults with
            {
                MaxTrainTokens = Positive(trainTokens, defaults.MaxTrainTokens),
                MaxTestTokens = Positive(testTokens, defaults.MaxTestTokens),
                Epochs = epochCount,
                LearningRate = rate,
                BatchSize = batch,
                Standardize = !result.GetValue(raw),
            };
            var r = ProbeProgressDisplay.Run(progress =>
                PosProbe.Run(dev, lm, Split(CorpusSplit.Train), Split(CorpusSplit.Test), options, m => Console.Error.WriteLine(m), progress));
            Directory.CreateDirectory(folder);
            Console.WriteLine(Table(r));
            var json = new JsonObject
            {
                ["tag_set"] = "Brown tags with -tl/-hl/-nc removed",
                ["tags"] = r.TagCount, ["train_tokens"] = r.TrainTokens, ["test_tokens"] = r.TestTokens,
                ["test_tokens_unseen_words"] = r.UnseenTokens, ["test_tokens_ambiguous_words"] = r.AmbiguousTokens,
                ["epochs"] = options.Epochs, ["batch_size"] = options.BatchSize, ["learning_rate"] = options.LearningRate,
                ["standardized_features"] = options.Standardize,
                ["baseline_most_frequent_tag"] = Json(r.Baseline),
                ["accuracy"] = new JsonObject(r.Scores.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)Json(s.Accuracy)))),
                ["training"] = new JsonObject(r.Scores.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)new JsonObject
                {
                    ["loss_per_pass"] = new JsonArray(s.PassLosses.Select(l => (JsonNode)l).ToArray()),
                    ["accuracy"] = s.TrainAccuracy,
                }))),
                ["mix_weights"] = new JsonArray(r.MixWeights.Select(w => (JsonNode)w).ToArray()), ["mix_gamma"] = r.MixGamma,
            };
            AtomicFile.WriteAllText(Path.Combine(folder, "probe.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Charts.Bars(Path.Combine(folder, "probe.png"), "POS tagging accuracy (Brown test split)", "accuracy",
                [("most frequent tag", r.Baseline.All), .. r.Scores.Select(s => (s.Name, s.Accuracy.All))]);
            Console.WriteLine($"wrote {Path.Combine(folder, "probe.json")} and probe.png");
            return 0;
        });
        return command;
    }

    /// <summary>Before the work: probe.json and probe.png may replace earlier ones, but never an input or a run's file.</summary>
    static void CheckOutputs(string folder, IReadOnlyList<OutputPaths.Input> inputs)
    {
        if (File.Exists(folder)) throw new InputException($"--out {folder} is a file; give a folder for probe.json and probe.png (it is created if missing).");
        if (!Directory.Exists(folder)) return;
        foreach (var name in new[] { "probe.json", "probe.png" })
            OutputPaths.CheckFile(Path.Combine(folder, name), "--out", name, overwrite: true, inputs);
    }

    static JsonObject Json(TaggingAccuracy a) => new()
    {
        ["all"] = a.All,
        ["unseen_words"] = double.IsNaN(a.Unseen) ? null : a.Unseen,
        ["ambiguous_words"] = double.IsNaN(a.Ambiguous) ? null : a.Ambiguous,
    };

    static string Percent(double value) => double.IsNaN(value) ? "-" : value.ToString("P2");

    public static string Table(PosProbeResult r)
    {
        static string Row(string name, TaggingAccuracy a, string training) =>
            $"| {name} | {Percent(a.All)} | {Percent(a.Unseen)} | {Percent(a.Ambiguous)} | {training} |";
        var lines = new List<string>
        {
            $"POS probe: {r.TagCount} tags (Brown, -tl/-hl/-nc removed), {r.TrainTokens} training / {r.TestTokens} test tokens " +
            $"({r.UnseenTokens} of unseen words, {r.AmbiguousTokens} of ambiguous words)",
            "| representation | all tokens | unseen words | ambiguous words | training: accuracy; loss per pass |",
            "|---|---|---|---|---|",
            Row("most frequent tag (baseline)", r.Baseline, ""),
        };
        lines.AddRange(r.Scores.Select(s => Row(s.Name, s.Accuracy,
            $"{Percent(s.TrainAccuracy)}; {string.Join(", ", s.PassLosses.Select(l => l.ToString("F3")))}")));
        lines.Add($"mix weights softmax(s): {string.Join(", ", r.MixWeights.Select(w => w.ToString("F3")))}; gamma {r.MixGamma:F3}");
        return string.Join('\n', lines);
    }
}
