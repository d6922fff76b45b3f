using System.CommandLine;
using System.Diagnostics;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo bench`: training throughput of a model size on synthetic text (word ids drawn Zipf-like from a
/// synthetic vocabulary of the size asked), so a published-size model can be timed without its corpus.
/// </summary>
static class BenchCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var preset = new Option<string?>("--preset") { Description = $"Model size: {string.Join(", ", ModelPresets.Names)} (default by device)" };
        var options = new Option<string?>("--options") { Description = "Options JSON instead of a preset" };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Synthetic vocabulary size (the published ELMo's is 793471)", DefaultValueFactory = _ => 793_471 };
        var steps = new Option<int>("--steps") { Description = "Timed training steps", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first", DefaultValueFactory = _ => 3 };
        var command = new Command("bench", "Time training steps of a model size on synthetic text and report tokens/s");
        foreach (var o in new Option[] { preset, options, vocabSize, steps, warmup }) command.Options.Add(o);
        device.AddTo(command);
        command.SetAction(result =>
        {
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            var o = result.GetValue(options) is { } path ? BilmOptions.Load(path).Options
                : ModelPresets.Get(result.GetValue(preset) ?? ModelPresets.DefaultFor(dev.Description.Kind));
            int timed = result.GetValue(steps), untimed = result.GetValue(warmup);
            var r = ConsoleProgress.Run("bench", "steps", Math.Max(0, untimed) + timed,
                progress => Run(dev, o, result.GetValue(vocabSize), timed, untimed, progress));
            Console.WriteLine($"{r.Model}");
            Console.WriteLine($"device {dev.Description.KindName} ({dev.Description.Name}), {dev.Options.Precision}, GEMM {dev.Gemm.Backend.Name}");
            Console.WriteLine($"{r.Steps} steps of {r.TokensPerStep} tokens: {r.MillisecondsPerStep:F1} ms/step, {r.TokensPerSecond:F0} tokens/s");
            Console.WriteLine($"process CPU time {r.CpuMillisecondsPerStep:F1} ms/step (all threads; beside wall time, it shows how much a loaded machine inflated the figure above)");
            return 0;
        });
        return command;
    }

    public sealed record BenchResult(string Model, int Steps, int TokensPerStep, double MillisecondsPerStep, double TokensPerSecond, double CpuMillisecondsPerStep);

    /// <summary>Times <paramref name="steps"/> training steps after <paramref name="warmup"/>; <paramref name="progress"/> hears the steps done so far, warmup included.</summary>
    public static BenchResult Run(ComputeDevice device, BilmOptions options, int vocabularySize, int steps, int warmup, IProgress<long>? progress = null)
    {
        if (vocabularySize < 10) throw new InputException($"--vocab-size must be at least 10 (got {vocabularySize}).");
        if (steps < 1) throw new InputException($"--steps must be at least 1 (got {steps}).");
        var words = new List<string> { Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk };
        for (int i = 3; i < vocabularySize; i++) words.Add($"w{i}");
        var vocab = new Vocabulary(words);
        options = options with { NTokensVocab = vocabularySize, Softmax = options.EffectiveSoftmax.FitTo(vocabularySize) };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(options.Optimizer, options.EffectiveLearningRate, options.InitialAccumulatorValue));
        var random = new Random(1);
        LmBatch Batch()
        {
            var batch = new LmBatch(options.UnrollSteps, options.BatchSize);
            int n = batch.Steps * batch.BatchSize;
            for (int i = 0; i < n; i++)
            {
                // Zipf-like ids, as a frequency-sorted vocabulary sees them (log-uniform over [3, V)).
                int Draw() => Math.Min(vocabularySize - 1, 3 + (int)(Math.Exp(random.NextDouble() * Math.Log(vocabularySize - 2)) - 1));
                int f = Draw(), b = Draw();
                batch.ForwardInputs[i] = f; batch.ForwardTokens[i] = words[f]; batch.ForwardTargets[i] = Draw();
                batch.BackwardInputs[i] = b; batch.BackwardTokens[i] = words[b]; batch.BackwardTargets[i] = Draw();
            }
            Array.Fill(batch.Lengths, batch.Steps);
            return batch;
        }
        void Step(long step)
        {
            model.TrainStep(Batch(), step, (ulong)step);
            optimizer.Step(GradientClipping.Scale(optimizer.GradientNorm(), options.AllClipNormVal));
            progress?.Report(step + 1);
        }
        for (int i = 0; i < warmup; i++) Step(i);
        device.Synchronize();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step(warmup + i);
        device.Synchronize();
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / steps;
        int tokens = 2 * options.BatchSize * options.UnrollSteps;
        double ms = watch.Elapsed.TotalMilliseconds / steps;
        return new BenchResult(model.Describe(), steps, tokens, ms, tokens / (ms / 1000), cpuMs);
    }
}
