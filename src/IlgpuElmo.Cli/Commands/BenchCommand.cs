using System.CommandLine;
using System.Diagnostics;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo bench`: training throughput of a model size on synthetic text (word ids drawn Zipf-like from a
/// synthetic vocabulary of the size asked), so a published-size model can be timed without its corpus.
/// With --embed, embedding throughput instead: one batch of synthetic sentences through `elmo embed`'s
/// path (<see cref="BidirectionalLanguageModel.Embed(IReadOnlyList{string[]}, Layers.LstmState?, EmbeddingBatch)"/>). The TorchSharp peer
/// (benchmarks/peers/TorchSharpPeer) draws the same windows and sentences from the same seeds.
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
        var embed = new Option<bool>("--embed") { Description = "Time embedding batches of synthetic sentences instead of training (--steps batches)" };
        var sentences = new Option<int>("--sentences") { Description = "Sentences per embedding batch (--embed)", DefaultValueFactory = _ => 64 };
        var fmaPeak = new Option<bool>("--fma-peak") { Description = "Only measure this CPU's fp32 FMA peak for each SIMD width the host GEMM can use (one thread and all)" };
        var command = new Command("bench", "Time training steps (or embedding batches) of a model size on synthetic text and report tokens/s");
        foreach (var o in new Option[] { preset, options, vocabSize, steps, warmup, embed, sentences, fmaPeak }) command.Options.Add(o);
        device.AddTo(command);
        command.SetAction(result =>
        {
            if (result.GetValue(fmaPeak))
            {
                PrintFmaPeaks();
                return 0;
            }
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            var o = result.GetValue(options) is { } path ? BilmOptions.Load(path).Options
                : ModelPresets.Get(result.GetValue(preset) ?? ModelPresets.DefaultFor(dev.Description.Kind));
            dev.ApplyModelPrecision(o.Precision);
            int timed = result.GetValue(steps), untimed = result.GetValue(warmup);
            if (result.GetValue(embed))
            {
                var e = ConsoleProgress.Run("bench --embed", "batches", Math.Max(0, untimed) + timed,
                    progress => RunEmbedding(dev, o, result.GetValue(sentences), result.GetValue(vocabSize), timed, untimed, progress, measureFloor: true));
                Console.WriteLine($"{e.Model}");
                Console.WriteLine($"device {dev.Description.KindName} ({dev.Description.Name}), precision {dev.Precision.ToString().ToLowerInvariant()}, GEMM {dev.Gemm.Backend.Name}");
                Console.WriteLine($"embed {e.Sentences} sentences ({e.Tokens} tokens) x {e.Batches}: {e.MillisecondsPerBatch:F1} ms/batch, {e.TokensPerSecond:F1} tokens/s");
                foreach (string line in e.Floor?.Report("batch", e.MillisecondsPerBatch) ?? []) Console.WriteLine(line);
                return 0;
            }
            var r = ConsoleProgress.Run("bench", "steps", Math.Max(0, untimed) + timed,
                progress => Run(dev, o, result.GetValue(vocabSize), timed, untimed, progress, measureFloor: true));
            Console.WriteLine($"{r.Model}");
            Console.WriteLine($"device {dev.Description.KindName} ({dev.Description.Name}), precision {dev.Precision.ToString().ToLowerInvariant()}, GEMM {dev.Gemm.Backend.Name}");
            foreach (string line in r.Report()) Console.WriteLine(line);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One bench run. A step trains both directions on batch x unroll positions each: PositionsPerStep
    /// (batch x unroll, what PyTorch peers count as a step's tokens) and TokensPerStep (2 x batch x unroll,
    /// the targets predicted over both directions' streams). CpuMillisecondsPerStep is the process's CPU
    /// time (all threads) per step: beside wall time it shows how much a loaded machine inflated the figure.
    /// </summary>
    public sealed record BenchResult(string Model, int Steps, int BatchSize, int UnrollSteps, double MillisecondsPerStep,
        double CpuMillisecondsPerStep, HostFloor? Floor = null, IReadOnlyList<StepPhase>? Phases = null)
    {
        public int PositionsPerStep => BatchSize * UnrollSteps;
        public int TokensPerStep => 2 * PositionsPerStep;
        public double PositionsPerSecond => PositionsPerStep / (MillisecondsPerStep / 1000);
        public double TokensPerSecond => TokensPerStep / (MillisecondsPerStep / 1000);

        /// <summary>The lines `elmo bench` prints: time per step, then each count with its rate, named.</summary>
        public IEnumerable<string> Report() =>
        [
            $"{Steps} timed steps: {MillisecondsPerStep:F1} ms/step",
            $"positions per step (batch {BatchSize} x unroll {UnrollSteps}): {PositionsPerStep}, {PositionsPerSecond:F0} positions/s",
            $"tokens per step over both directions (2 x {BatchSize} x {UnrollSteps}): {TokensPerStep}, {TokensPerSecond:F0} tokens/s",
            $"process CPU time {CpuMillisecondsPerStep:F1} ms/step (all threads)",
            .. Floor?.Report("step", MillisecondsPerStep) ?? [],
            .. PhaseReport(),
        ];

        /// <summary>Each phase's share of a step, from the steps run after the timing with every phase waited for.</summary>
        IEnumerable<string> PhaseReport()
        {
            if (Phases is not { Count: > 0 } phases) yield break;
            double total = phases.Sum(p => p.Milliseconds);
            yield return $"where a step goes ({phases[0].Steps} more steps, each phase waited for: {total:F1} ms/step):";
            foreach (var phase in phases) yield return $"  {phase.Name}: {phase.Milliseconds:F1} ms ({phase.Milliseconds / total:P0})";
        }
    }

    /// <summary>Steps run after the timing to break a step into phases (<see cref="StepPhaseTimes"/>).</summary>
    const int PhaseSteps = 10;

    /// <summary>
    /// Times <paramref name="steps"/> training steps after <paramref name="warmup"/>; <paramref name="progress"/> hears the steps done so far,
    /// warmup included. With <paramref name="measureFloor"/> and the host GEMM, also the <see cref="HostFloor"/> (after the timing).
    /// </summary>
    public static BenchResult Run(ComputeDevice device, BilmOptions options, int vocabularySize, int steps, int warmup, IProgress<long>? progress = null,
        bool measureFloor = false)
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
                int Draw() => ZipfId(random, vocabularySize);
                int f = Draw(), b = Draw();
                batch.ForwardInputs[i] = f; batch.ForwardTokens[i] = words[f]; batch.ForwardTargets[i] = Draw();
                batch.BackwardInputs[i] = b; batch.BackwardTokens[i] = words[b]; batch.BackwardTargets[i] = Draw();
            }
            Array.Fill(batch.Lengths, batch.Steps);
            return batch;
        }
        using var scalars = new StepScalars(device);
        void Step(long step)
        {
            // What the trainer does per step, its one host wait included.
            model.TrainStep(Batch(), step, (ulong)step, scalars);
            optimizer.ClipAndStep((float)options.AllClipNormVal, scalars.NormAndScale);
            scalars.Read(device.Stream);
            model.Phases?.Mark("optimizer and the loss read");
            progress?.Report(step + 1);
        }
        for (int i = 0; i < warmup; i++) Step(i);
        device.Synchronize();
        var host = measureFloor ? device.Gemm.Backend as HostGemm : null;
        long multiplyAdds = host?.MultiplyAdds ?? 0;
        IReadOnlyList<HostGemmCall> calls = [];
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            if (host is not null && i == steps - 1) calls = host.Record(() => Step(warmup + i));
            else Step(warmup + i);
        }
        device.Synchronize();
        double ms = watch.Elapsed.TotalMilliseconds / steps;
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / steps;
        var floor = host is null ? null : HostFloor.Measure(device, host, (host.MultiplyAdds - multiplyAdds) / steps, calls);
        IReadOnlyList<StepPhase>? phases = null;
        if (measureFloor)
        {
            // After the timing: the phase marks wait for the device, which the timed steps must not.
            model.Phases = new StepPhaseTimes(device);
            for (int i = 0; i < Math.Min(steps, PhaseSteps); i++) Step(warmup + steps + i);
            phases = model.Phases.Phases;
            model.Phases = null;
        }
        return new BenchResult(model.Describe(), steps, options.BatchSize, options.UnrollSteps, ms, cpuMs, floor, phases);
    }

    /// <summary>`elmo bench --fma-peak`: the FMA loop of every width this process runs, on one thread and on all.</summary>
    static void PrintFmaPeaks()
    {
        var cpu = HostProcessor.Current;
        Console.WriteLine($"cpu {cpu}");
        foreach (var kernel in Enum.GetValues<HostGemmKernel>())
        {
            if (!HostGemm.IsSupported(kernel)) continue;
            double one = FmaPeak.Measure(kernel, 1, 0.3), all = FmaPeak.Measure(kernel, cpu.Cores, 0.3);
            Console.WriteLine($"FMA peak {kernel} ({HostGemmBlocking.ColumnsOf(kernel) / 2} lanes, 12 chains): {one:F1} GFLOP/s on one thread, {all:F1} on {cpu.Cores}");
        }
    }

    public sealed record EmbedResult(string Model, int Sentences, int Tokens, int Batches, double MillisecondsPerBatch, double TokensPerSecond,
        HostFloor? Floor = null);

    /// <summary>
    /// Embeds one batch of synthetic sentences (Random(2): lengths 5..45, words w&lt;id&gt; drawn as the
    /// training windows' from <paramref name="wordVocabularySize"/>) <paramref name="batches"/> times. The char
    /// CNN reads the words' characters, so no vocabulary is needed: the model gets a 16-word full softmax
    /// that embedding never runs. <paramref name="progress"/> hears the batches done so far, warmup included.
    /// </summary>
    public static EmbedResult RunEmbedding(ComputeDevice device, BilmOptions options, int sentenceCount, int wordVocabularySize, int batches, int warmup,
        IProgress<long>? progress = null, bool measureFloor = false)
    {
        if (sentenceCount < 1) throw new InputException($"--sentences must be at least 1 (got {sentenceCount}).");
        if (batches < 1) throw new InputException($"--steps must be at least 1 (got {batches}).");
        if (wordVocabularySize < 10) throw new InputException($"--vocab-size must be at least 10 (got {wordVocabularySize}).");
        var words = new List<string> { Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk };
        for (int i = 3; i < 16; i++) words.Add($"w{i}");
        options = options with { NTokensVocab = words.Count, Softmax = new SoftmaxOptions(SoftmaxKind.Full, [], 4f) };
        using var model = BidirectionalLanguageModel.Create(device, options, new Vocabulary(words));
        var random = new Random(2);
        var sentences = new string[sentenceCount][];
        for (int s = 0; s < sentenceCount; s++)
        {
            sentences[s] = new string[5 + random.Next(41)];
            for (int t = 0; t < sentences[s].Length; t++) sentences[s][t] = $"w{ZipfId(random, wordVocabularySize)}";
        }
        long done = 0;
        var output = new EmbeddingBatch();
        void Batch()
        {
            model.Embed(sentences, null, output);
            progress?.Report(++done);
        }
        for (int i = 0; i < warmup; i++) Batch();
        var host = measureFloor ? device.Gemm.Backend as HostGemm : null;
        long multiplyAdds = host?.MultiplyAdds ?? 0;
        IReadOnlyList<HostGemmCall> calls = [];
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < batches; i++)
        {
            if (host is not null && i == batches - 1) calls = host.Record(Batch);
            else Batch();
        }
        int tokens = sentences.Sum(x => x.Length);
        double ms = watch.Elapsed.TotalMilliseconds / batches;
        var floor = host is null ? null : HostFloor.Measure(device, host, (host.MultiplyAdds - multiplyAdds) / batches, calls);
        return new EmbedResult(model.Describe(), sentenceCount, tokens, batches, ms, tokens / (ms / 1000), floor);
    }

    /// <summary>Zipf-like ids, as a frequency-sorted vocabulary sees them (log-uniform over [3, V)).</summary>
    static int ZipfId(Random random, int vocabularySize) =>
        Math.Min(vocabularySize - 1, 3 + (int)(Math.Exp(random.NextDouble() * Math.Log(vocabularySize - 2)) - 1));

}
