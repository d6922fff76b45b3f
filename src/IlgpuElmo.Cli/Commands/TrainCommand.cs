using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Distributed;
using IlgpuElmo.Model;
using IlgpuElmo.Reporting;
using IlgpuElmo.Training;
using Spectre.Console;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo train`: trains a biLM. With no data options it trains the preset for the device on the
/// shipped Brown corpus (train split), reports held-out perplexity on dev while training, and at the
/// end the test perplexity beside the unigram model's on the same split.
/// </summary>
static class TrainCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var train = new Option<string?>("--train") { Description = "Training corpus: files, folder or pattern, one sentence per line (default: the shipped Brown corpus, train split)" };
        var dev = new Option<string?>("--dev") { Description = "Held-out corpus for perplexity during training (default: Brown dev, or none with --train)" };
        var test = new Option<string?>("--test") { Description = "Corpus for the final perplexity (default: Brown test, or none with --train)" };
        var vocab = new Option<string?>("--vocab") { Description = "Vocabulary file (default: built from the training corpus)" };
        var minCount = new Option<int>("--min-count") { Description = "With no --vocab: keep words seen at least this often", DefaultValueFactory = _ => 3 };
        var options = new Option<string?>("--options") { Description = "Model/training options JSON (bilm-tf format plus our keys)" };
        var preset = new Option<string?>("--preset") { Description = $"Built-in options when --options is not given: {string.Join(", ", ModelPresets.Names)} (default by device)" };
        var output = new Option<string?>("--out") { Description = "Run folder (default: runs/<date-time>); a folder holding a run is refused unless --overwrite" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run in the --out folder (its checkpoints and metrics are deleted)" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its checkpoint (to a new --steps/--epochs target if given)" };
        var fromPrevious = new Option<bool>("--from-previous") { Description = "With --resume: continue from the previous checkpoint (when the latest is damaged)" };
        var epochs = new Option<double?>("--epochs") { Description = "Passes over the training corpus (default: the options' n_epochs)" };
        var steps = new Option<long?>("--steps") { Description = "Training steps (overrides --epochs)" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints", DefaultValueFactory = _ => 100 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Steps between held-out perplexity reports (and at the end)", DefaultValueFactory = _ => 400 };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed (default: the options' seed)" };
        var distributed = new Option<bool>("--distributed") { Description = "Data-parallel training over the ranks mpiexec started (mpiexec.mpich -n N elmo train --distributed ...): batch_size is the global batch" };
        var allReduce = new Option<string>("--all-reduce")
        {
            Description = "With --distributed: how gradients are summed: nccl (CUDA device buffers, libnccl.so.2), mpi (through host memory), auto (nccl on CUDA, else mpi)",
            DefaultValueFactory = _ => "auto",
        };
        var mpiLibrary = new Option<string?>("--mpi-library") { Description = $"With --distributed: the MPICH-ABI MPI library to load (default: ${MpiLibrary.EnvironmentVariable}, else {MpiLibrary.DefaultName})" };
        var init = new InitArguments();
        var command = new Command("train", "Train a bidirectional language model (ELMo)");
        foreach (var o in new Option[] { train, dev, test, vocab, minCount, options, preset, output, overwrite, resume, fromPrevious, epochs, steps, checkpointEvery, evalEvery, seed, distributed, allReduce, mpiLibrary })
            command.Options.Add(o);
        init.AddTo(command);
        device.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var args = new TrainArguments(result.GetValue(train), result.GetValue(dev), result.GetValue(test), result.GetValue(vocab),
                result.GetValue(minCount), result.GetValue(options), result.GetValue(preset), result.GetValue(output), result.GetValue(resume),
                result.GetValue(epochs), result.GetValue(steps), result.GetValue(checkpointEvery), result.GetValue(evalEvery), result.GetValue(seed))
            {
                Overwrite = result.GetValue(overwrite),
                FromPrevious = result.GetValue(fromPrevious),
                Init = init.Parse(result),
                Distributed = result.GetValue(distributed),
                MpiLibrary = result.GetValue(mpiLibrary),
                AllReduce = result.GetValue(allReduce)!,
            };
            return Task.FromResult(Run(args, device.Parse(result), cancel));
        });
        return command;
    }

    public sealed record TrainArguments(string? Train, string? Dev, string? Test, string? Vocab, int MinCount, string? Options,
        string? Preset, string? Out, string? Resume, double? Epochs, long? Steps, int CheckpointEvery, int EvalEvery, ulong? Seed)
    {
        public bool Overwrite { get; init; }
        public bool FromPrevious { get; init; }
        public InitArguments.Values? Init { get; init; }
        public bool Distributed { get; init; }
        public string? MpiLibrary { get; init; }
        public string AllReduce { get; init; } = "auto";
    }

    /// <summary>The corpus and plan of a run, saved as run.json so --resume needs nothing else.</summary>
    public sealed record RunSettings(string[] TrainFiles, string[]? DevFiles, string[]? TestFiles, long TotalSteps,
        int CheckpointEvery, int EvalEvery, ulong Seed, string Device, bool FreezeEncoder = false);

    /// <summary>A run's folder (held under its lock), plan, options and vocabulary, ready to train.</summary>
    /// <remarks>Lock is null on the ranks other than 0 of a data-parallel run, which read the run but never write it.</remarks>
    sealed record PreparedRun(string Folder, RunFolderLock? Lock, RunSettings Settings, BilmOptions Options, Vocabulary Vocabulary);

    public static int Run(TrainArguments a, Devices.DeviceOptions deviceOptions, CancellationToken cancel)
    {
        if (a.MpiLibrary is not null && !a.Distributed) throw new InputException("--mpi-library goes with --distributed.");
        if (a.AllReduce != "auto" && !a.Distributed) throw new InputException($"--all-reduce {a.AllReduce} goes with --distributed.");
        using var world = a.Distributed ? MpiWorld.Start(a.MpiLibrary) : null;
        try
        {
            return Train(a, deviceOptions, world, cancel);
        }
        catch (Exception e) when (world is { Size: > 1 } && e is not RanksStoppedTogetherException)
        {
            // The other ranks would wait in their next collective for ever: end the job (MPICH's launcher stops every rank).
            world.Abort(Program.IsUserError(e) ? $"error: {(world.IsRoot ? "" : $"rank {world.Rank}: ")}{e.Message}" : e.ToString());
            throw;
        }
    }

    /// <summary>Thrown on every rank when a rank could not prepare the run: all of them stop normally, rank 0's error printed.</summary>
    sealed class RanksStoppedTogetherException(string message, Exception? inner = null) : InputException(message, inner);

    static int Train(TrainArguments a, Devices.DeviceOptions deviceOptions, MpiWorld? world, CancellationToken cancel)
    {
        // Rank 0 speaks for the run; the other ranks print only their errors.
        var log = world is { IsRoot: false } ? TextWriter.Null : Console.Error;
        CheckArguments(a, world);
        if (world is not null) deviceOptions = RankSetup.DeviceOfLocalRank(deviceOptions, MpiLaunch.LocalRank(Environment.GetEnvironmentVariables()));
        using var device = ComputeDevice.Create(deviceOptions, log);
        device.MemoryHint = "lower batch_size in the options (or the model size)";
        using var init = a.Resume is null && a.Init is { } i ? ModelInitialization.Open(device, i.RunFolder, i.Options, i.Weights) : null;
        var prepared = Prepare(a, device, init, world, log);
        using var folderLock = prepared.Lock;
        var (runDir, _, settings, options, vocabulary) = prepared;
        if (folderLock?.StaleOwner is { } stale)
            log.WriteLine($"warning: {runDir} had a stale lock from a run that is no longer running ({stale}); taking the folder over.");

        device.ApplyModelPrecision(options.Precision);
        log.WriteLine($"device: {device.Description}; GEMM {device.Gemm.Backend.Name}, precision {device.Precision.ToString().ToLowerInvariant()}");
        var replicas = world is null ? null : new Replicas(world, options.BatchSize);
        using var model = BidirectionalLanguageModel.Create(device, options, vocabulary, replicas?.Streams);
        if (init is not null)
        {
            foreach (var line in init.Apply(model)) log.WriteLine(line);
            init.Dispose();
        }
        if (replicas is not null)
        {
            replicas.BroadcastFromRoot(device.Stream, model.Parameters);
            log.WriteLine($"data-parallel: {replicas.Count} ranks over MPI ({MpiLibrary.Choose(a.MpiLibrary)}), {replicas.Streams.Local} of the {options.BatchSize} streams each");
        }
        model.EncoderFrozen = settings.FreezeEncoder;
        log.WriteLine($"model: {model.Describe()}{(model.EncoderFrozen ? "; token encoder frozen (--freeze)" : "")}");
        log.WriteLine($"optimizer: {options.Optimizer.ToString().ToLowerInvariant()}, learning rate {options.EffectiveLearningRate} " +
            $"({(options.LearningRateSchedule ?? LearningRateSchedule.Constant).Describe()}), {settings.TotalSteps} steps");
        var allReduce = world is null ? null : RankSetup.GradientAllReduce(a.AllReduce, device, world, log);
        using var allReduceResources = allReduce as IDisposable;
        using var optimizer = new Optimizer(device, model.TrainableParameters, new OptimizerOptions(options.Optimizer, options.EffectiveLearningRate, options.InitialAccumulatorValue))
        {
            AllReduce = allReduce,
        };
        var trainBatcher = new LmBatcher(settings.TrainFiles, vocabulary, options.BatchSize, options.UnrollSteps, training: true, settings.Seed);
        Func<LmBatcher>? heldOut = settings.DevFiles is { } devs
            ? () => new LmBatcher(devs, vocabulary, options.BatchSize, options.UnrollSteps, training: false, settings.Seed)
            : null;
        var plan = new TrainingPlan(settings.TotalSteps, settings.CheckpointEvery, settings.EvalEvery, options.AllClipNormVal, settings.Seed,
            options.LearningRateSchedule);
        string optionsPrint = Checkpoint.Fingerprint(options.ToJson()), vocabPrint = Checkpoint.Fingerprint(string.Join('\n', vocabulary.Words));

        TrainingOutcome outcome;
        bool live = world is not { IsRoot: false } && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        Trainer? trainer = null;
        Trainer MakeTrainer(ITrainingObserver observer)
        {
            var t = new Trainer(device, model, optimizer, trainBatcher, heldOut, runDir, plan, observer, optionsPrint, vocabPrint) { Replicas = replicas };
            if (a.Resume is not null)
            {
                t.Resume(a.FromPrevious);
                // The new target is recorded only once the checkpoint has been accepted.
                if (world is not { IsRoot: false }) AtomicFile.WriteAllText(Path.Combine(runDir, "run.json"), JsonSerializer.Serialize(settings, RunJsonFormat));
            }
            return t;
        }
        var interrupt = new StopSignals(cancel);
        try
        {
            if (live)
            {
                outcome = AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("starting", maxValue: plan.TotalSteps);
                        trainer = MakeTrainer(new ConsoleTrainingObserver(task, log));
                        return trainer.Run(interrupt.Token);
                    });
            }
            else
            {
                trainer = MakeTrainer(new ConsoleTrainingObserver(null, log));
                outcome = trainer.Run(interrupt.Token);
            }
        }
        finally
        {
            // Signals after training take their default action: the last checkpoint is already saved.
            interrupt.Dispose();
            if (trainer is not null && world is not { IsRoot: false }) PlotLoss(trainer.Metrics, Path.Combine(runDir, "loss.png"));
        }
        if (outcome == TrainingOutcome.Interrupted) return interrupt.ExitCode;
        if (world is { IsRoot: false }) return 0;

        var summary = new JsonObject { ["run"] = runDir, ["steps"] = settings.TotalSteps };
        if (settings.TestFiles is { } tests)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var (f, b, tokens) = model.Evaluate(new LmBatcher(tests, vocabulary, options.BatchSize, options.UnrollSteps, training: false, settings.Seed));
            var report = EvaluationReport.FromLosses(settings.TotalSteps, f, b, tokens, watch.Elapsed.TotalSeconds);
            double unigram = UnigramBaseline.Perplexity(vocabulary, settings.TrainFiles, tests);
            Console.WriteLine($"test perplexity: forward {report.ForwardPerplexity:F2}, backward {report.BackwardPerplexity:F2}, mean {report.MeanPerplexity:F2} over {tokens} tokens");
            double ratio = unigram / report.MeanPerplexity;
            Console.WriteLine($"unigram perplexity on the same test split: {unigram:F2} (the biLM's is {(ratio >= 1 ? $"{ratio:F2}x lower" : $"{1 / ratio:F2}x higher")})");
            summary["test_perplexity_forward"] = report.ForwardPerplexity;
            summary["test_perplexity_backward"] = report.BackwardPerplexity;
            summary["test_perplexity"] = report.MeanPerplexity;
            summary["unigram_test_perplexity"] = unigram;
            summary["test_tokens"] = tokens;
        }
        AtomicFile.WriteAllText(Path.Combine(runDir, "result.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"model and metrics in {runDir}");
        return 0;
    }

    static readonly JsonSerializerOptions RunJsonFormat = new() { WriteIndented = true };

    static void CheckArguments(TrainArguments a, MpiWorld? world)
    {
        OptionChecks.AtLeast(a.CheckpointEvery, 1, "--checkpoint-every");
        OptionChecks.AtLeast(a.EvalEvery, 1, "--eval-every");
        OptionChecks.AtLeast(a.Steps, 1, "--steps");
        OptionChecks.Positive(a.Epochs, "--epochs");
        OptionChecks.AtLeast(a.MinCount, 1, "--min-count");
        if (a.Resume is not null && (a.Out is not null || a.Overwrite))
            throw new InputException($"--resume {a.Resume} continues the run in its own folder; give it without --out and --overwrite.");
        if (a.Resume is not null && a.Init?.Given == true)
            throw new InputException($"--resume {a.Resume} continues a run from its checkpoint; --init, --init-options, --init-weights and --freeze start a new one: give one or the other.");
        if (a.FromPrevious && a.Resume is null)
            throw new InputException("--from-previous goes with --resume DIR: it picks that run's previous checkpoint.");
        // Before any work: a file in the way, or a folder that holds a run or is in use, is refused now.
        if (a.Out is { } folder && world is not { IsRoot: false }) RunFolder.CheckNewRunTarget(folder, a.Overwrite);
    }

    /// <summary>
    /// The run to train. In a data-parallel run rank 0 claims and writes the folder; the other ranks then read
    /// the same plan without claiming it. A rank that fails here stops every rank, with its own message.
    /// </summary>
    static PreparedRun Prepare(TrainArguments a, ComputeDevice device, ModelInitialization? init, MpiWorld? world, TextWriter log)
    {
        if (world is null) return a.Resume is { } dir ? PrepareResume(a, dir, log, claim: true) : PrepareNewRun(a, device, init, log);
        PreparedRun? prepared = null;
        Exception? failure = null;
        try
        {
            if (world.IsRoot) prepared = a.Resume is { } dir ? PrepareResume(a, dir, log, claim: true) : PrepareNewRun(a, device, init, log);
        }
        catch (Exception e)
        {
            failure = e;
        }
        if (!world.AllSucceeded(failure is null))
        {
            if (failure is not null) throw new RanksStoppedTogetherException(failure.Message, failure);
            throw new RanksStoppedTogetherException("--distributed: rank 0 could not prepare the run (its error is above); nothing was trained.");
        }
        string runDir = world.Broadcast(prepared?.Folder);
        if (world.IsRoot) return prepared!;
        // A new run's plan is what rank 0 just wrote into the folder: read it back as a resume would.
        return PrepareResume(a.Resume is not null ? a : a with { Steps = null, Epochs = null, Options = null, Vocab = null }, runDir, log, claim: false);
    }

    /// <summary>Steps in one pass over <paramref name="targets"/> targets per direction.</summary>
    static long StepsPerEpoch(long targets, BilmOptions options)
    {
        long perStep = (long)options.BatchSize * options.UnrollSteps;
        return Math.Max(1, (targets + perStep - 1) / perStep);
    }

    /// <summary>The total a --steps/--epochs given now asks for, or null when neither is given.</summary>
    static long? RequestedSteps(TrainArguments a, long targets, BilmOptions options) =>
        a.Steps ?? (a.Epochs is double e ? (long)Math.Ceiling(e * StepsPerEpoch(targets, options)) : null);

    static PreparedRun PrepareResume(TrainArguments a, string runDir, TextWriter log, bool claim)
    {
        var held = claim ? RunFolder.ClaimForResume(runDir) : null;
        try
        {
            string settingsPath = Path.Combine(runDir, "run.json");
            if (!File.Exists(settingsPath)) throw new InputException($"--resume {runDir}: there is no run.json there; give the folder of an earlier `elmo train`.");
            var settings = JsonFiles.Read<RunSettings>(settingsPath, "The run's plan is damaged; start the run again with --out and --overwrite.");
            if (settings.TrainFiles is null || settings.TotalSteps < 1)
                throw new InputException($"{settingsPath}: has no training files or step count; start the run again with --out and --overwrite.");
            var (options, warnings) = BilmOptions.Load(Path.Combine(runDir, "options.json"));
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
            if (a.Options is { } given && BilmOptions.Load(given).Options.ToJson() != options.ToJson())
                throw new InputException($"--options {given} differs from the options the run in {runDir} was started with; resume without --options.");
            var vocabulary = Vocabulary.Load(Path.Combine(runDir, "vocab.txt"));
            if (a.Vocab is { } v && !Vocabulary.Load(v).Words.SequenceEqual(vocabulary.Words))
                throw new InputException($"--vocab {v} differs from the vocabulary the run in {runDir} was started with; resume without --vocab.");
            if (a.Epochs is not null && a.Steps is null && options.NTrainTokens is null)
                throw new InputException($"--epochs: {runDir}/options.json has no n_train_tokens to count epochs by; give --steps instead.");
            if (RequestedSteps(a, options.NTrainTokens ?? 0, options) is long total) settings = settings with { TotalSteps = total };
            return new PreparedRun(runDir, held, settings, options, vocabulary);
        }
        catch
        {
            held?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the corpus, vocabulary and options and checks they can train, all before a folder is created
    /// or claimed; then claims the folder and writes the run's options, vocabulary and plan into it.
    /// </summary>
    static PreparedRun PrepareNewRun(TrainArguments a, ComputeDevice device, ModelInitialization? init, TextWriter log)
    {
        bool builtIn = a.Train is null;
        string? brown = builtIn ? BrownCorpus.ExtractText(BrownCorpus.DefaultTextDirectory) : null;
        var trainFiles = builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "train"), "--train") : CorpusFiles.Expand(a.Train!, "--train");
        var devFiles = a.Dev is { } d ? CorpusFiles.Expand(d, "--dev") : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "dev"), "--dev") : null;
        var testFiles = a.Test is { } t ? CorpusFiles.Expand(t, "--test") : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "test"), "--test") : null;

        string presetName = a.Preset ?? ModelPresets.DefaultFor(device.Description.Kind);
        BilmOptions options;
        if (init is not null)
        {
            (options, var warnings) = init.TrainingOptions(a.Options, presetName);
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
            log.WriteLine($"initial model: {init.Source}; architecture from its options, training settings from {a.Options ?? $"preset {presetName}"}");
        }
        else if (a.Options is { } optionsPath)
        {
            (options, var warnings) = BilmOptions.Load(optionsPath);
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
        }
        else options = ModelPresets.Get(presetName);

        var reader = new SentenceReader();
        long targets = LmBatcher.CountTargets(trainFiles, reader);
        if (reader.Warning is { } warning) log.WriteLine(warning);
        if (targets == 0)
            throw new InputException(
                $"--train: the corpus ({trainFiles.Count} file(s), e.g. {trainFiles[0]}) has no trainable targets: every line is blank, whitespace or not UTF-8. Give text, one sentence per line.");
        long perBatch = (long)options.BatchSize * options.UnrollSteps;
        if (targets < perBatch)
            throw new InputException(
                $"--train: the corpus has {targets} targets per direction, fewer than one batch ({options.BatchSize} streams x {options.UnrollSteps} steps = {perBatch}). " +
                "Give more text, or lower batch_size or unroll_steps in --options.");

        Vocabulary vocabulary;
        if (init?.FixedVocabulary(a.Vocab) is { } fixedVocabulary) vocabulary = fixedVocabulary;
        else if (a.Vocab is { } vocabPath) vocabulary = Vocabulary.Load(vocabPath);
        else (vocabulary, _) = Vocabulary.Build(trainFiles, a.MinCount, new SentenceReader());
        if (options.NTokensVocab is { } n && n != vocabulary.Count)
            log.WriteLine($"warning: n_tokens_vocab is {n} in the options but the vocabulary has {vocabulary.Count} words; using the vocabulary's size.");
        var softmax = options.EffectiveSoftmax;
        if (!softmax.Fits(vocabulary.Count))
        {
            if (a.Options is { } given)
                throw new InputException(
                    $"{given}: softmax.cutoffs [{string.Join(", ", softmax.Cutoffs)}] must each be below the vocabulary's {vocabulary.Count} words; lower them or drop the last.");
            var fitted = softmax.FitTo(vocabulary.Count);
            log.WriteLine($"note: preset {presetName}'s adaptive-softmax cutoffs {string.Join(",", softmax.Cutoffs)} do not fit this vocabulary of {vocabulary.Count} words; using {string.Join(",", fitted.Cutoffs)}.");
            options = options with { Softmax = fitted };
        }
        options = options with { NTokensVocab = vocabulary.Count, Seed = a.Seed ?? options.Seed, NTrainTokens = targets };

        long stepsPerEpoch = StepsPerEpoch(targets, options);
        long total = RequestedSteps(a, targets, options) ?? (long)Math.Ceiling(options.NEpochs * (double)stepsPerEpoch);
        if (total < 1) throw new InputException($"n_epochs {options.NEpochs} in the options gives no training step; ask for at least one (--steps or --epochs).");

        var (runDir, held) = a.Out is { } outDir ? (outDir, RunFolder.ClaimForNewRun(outDir, a.Overwrite)) : RunFolder.ClaimDefault("runs", DateTime.Now);
        try
        {
            var settings = new RunSettings(trainFiles.ToArray(), devFiles?.ToArray(), testFiles?.ToArray(), total,
                a.CheckpointEvery, a.EvalEvery, options.Seed, device.Description.ToString(), a.Init?.Freeze ?? false);
            options.Save(Path.Combine(runDir, "options.json"));
            vocabulary.Save(Path.Combine(runDir, "vocab.txt"));
            AtomicFile.WriteAllText(Path.Combine(runDir, "run.json"), JsonSerializer.Serialize(settings, RunJsonFormat));
            log.WriteLine($"run folder: {runDir}");
            log.WriteLine($"training corpus: {trainFiles.Count} file(s), {targets} targets per direction ({stepsPerEpoch} steps per epoch); vocabulary {vocabulary.Count} words; {total} steps");
            return new PreparedRun(runDir, held, settings, options, vocabulary);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>loss.png: the training loss per direction and the held-out perplexity's log, by step.</summary>
    static void PlotLoss(MetricsLog metrics, string path)
    {
        var records = metrics.ReadAll();
        if (records.Count == 0) return;
        var kind = records.FirstOrDefault(r => r["loss_kind"] is not null)?["loss_kind"]?.GetValue<string>() ?? "loss";
        List<(double, double)> Series(string key) => records.Where(r => r[key] is not null)
            .Select(r => ((double)r["step"]!.GetValue<long>(), r[key]!.GetValue<double>())).ToList();
        var heldOut = Series("dev_perplexity").Select(p => (p.Item1, Math.Log(p.Item2))).ToList();
        Charts.Lines(path, "Training", "step", $"{kind} (held-out: log perplexity)",
        [
            ($"forward {kind}", Series("loss_forward")),
            ($"backward {kind}", Series("loss_backward")),
            ("held-out log perplexity", heldOut),
        ]);
    }
}
