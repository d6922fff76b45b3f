using System.CommandLine;
using System.Diagnostics;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo eval --model DIR --test GLOB`: exact forward, backward and mean perplexity (bilm-tf's mean:
/// exp of the mean of the two directions' losses) and tokens/s.
/// </summary>
static class EvalCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var model = new ModelArguments();
        var test = new Option<string?>("--test") { Description = "Corpus to evaluate (default: the shipped Brown test split)" };
        var batchSize = new Option<int?>("--batch-size") { Description = "Parallel streams (default: the model's batch_size)" };
        var command = new Command("eval", "Exact held-out perplexity of a trained biLM");
        model.AddTo(command);
        command.Options.Add(test);
        command.Options.Add(batchSize);
        device.AddTo(command);
        command.SetAction(result =>
        {
            OptionChecks.AtLeast(result.GetValue(batchSize), 1, "--batch-size");
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            using var lm = model.Open(result, dev, needsSoftmax: true);
            var files = result.GetValue(test) is { } t
                ? CorpusFiles.Expand(t, "--test")
                : CorpusFiles.Expand(Path.Combine(BrownCorpus.ExtractText(BrownCorpus.DefaultTextDirectory), "test"), "--test");
            int batch = result.GetValue(batchSize) ?? lm.Options.BatchSize;
            long total = LmBatcher.CountTargets(files);
            var watch = Stopwatch.StartNew();
            var (f, b, tokens) = ConsoleProgress.Run("eval, per direction", "tokens", total,
                progress => lm.Evaluate(new LmBatcher(files, lm.Vocabulary, batch, lm.Options.UnrollSteps, training: false, seed: 0), progress));
            var r = EvaluationReport.FromLosses(0, f, b, tokens, watch.Elapsed.TotalSeconds);
            Console.WriteLine($"perplexity: forward {r.ForwardPerplexity:F2}, backward {r.BackwardPerplexity:F2}, mean {r.MeanPerplexity:F2}");
            Console.WriteLine($"{tokens} tokens per direction in {watch.Elapsed.TotalSeconds:F1} s ({2 * tokens / watch.Elapsed.TotalSeconds:F0} tokens/s, both directions) on {dev.Description.KindName}");
            return 0;
        });
        return command;
    }
}
