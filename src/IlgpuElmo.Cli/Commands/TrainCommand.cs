using System.CommandLine;
using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;
using IlgpuElmo.Model;
using IlgpuElmo.Training;
using Spectre.Console;

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

    public static int Run(TrainArguments a, DeviceOptions deviceOptions, CancellationToken cancel)
    {
        if (a.MpiLibrary is not null && !a.Distributed) throw new InputException("--mpi-library goes with --distributed.");
        if (a.AllReduce != "auto" && !a.Distributed) throw new InputException($"--all-reduce {a.AllReduce} goes with --distributed.");
        using var world = a.Distributed ? MpiWorld.Start(a.MpiLibrary) : null;
        try
        {
            return Train(a, deviceOptions, world is null ? null : new DataParallel(world, a.AllReduce), cancel);
        }
        catch (Exception e) when (world is { Size: > 1 } && e is not RanksStoppedTogetherException)
        {
            // The other ranks would wait in their next collective for ever: end the job (MPICH's launcher stops every rank).
            world.Abort(Program.IsUserError(e) ? $"error: {(world.IsRoot ? "" : $"rank {world.Rank}: ")}{e.Message}" : e.ToString());
            throw;
        }
    }

    static int Train(TrainArguments a, DeviceOptions deviceOptions, DataParallel? parallel, CancellationToken cancel)
    {
        // Rank 0 speaks for the run; the other ranks print only their errors.
        bool root = parallel is not { World.IsRoot: false };
        var log = root ? Console.Error : TextWriter.Null;
        CheckArguments(a, root);
        // From here on a signal is answered with a line: before the folder is claimed nothing is written, while
        // training a checkpoint is saved, during the final test evaluation result.json says so.
        using var interrupt = new StopSignals(cancel);
        if (parallel is not null) deviceOptions = DataParallel.DeviceOfLocalRank(deviceOptions, MpiLaunch.LocalRank(Environment.GetEnvironmentVariables()));
        using var device = ComputeDevice.Create(deviceOptions, log);
        device.MemoryHint = "lower batch_size in the options (or the model size)";
        TrainingRun run;
        try
        {
            run = a.Resume is { } folder
                ? TrainingRun.Resume(device, new ResumeRequest(folder)
                {
                    Steps = a.Steps, Epochs = a.Epochs, FromPrevious = a.FromPrevious, Options = a.Options, Vocabulary = a.Vocab,
                    Train = a.Train, Dev = a.Dev, Test = a.Test, Seed = a.Seed,
                }, log, parallel)
                : TrainingRun.Start(device, new NewRunRequest
                {
                    Train = a.Train, Dev = a.Dev, Test = a.Test, Vocabulary = a.Vocab, MinCount = a.MinCount, Options = a.Options, Preset = a.Preset,
                    Folder = a.Out, Overwrite = a.Overwrite, Steps = a.Steps, Epochs = a.Epochs, CheckpointEvery = a.CheckpointEvery,
                    EvalEvery = a.EvalEvery, Seed = a.Seed, InitFrom = a.Init?.RunFolder, InitOptions = a.Init?.Options,
                    InitWeights = a.Init?.Weights, Freeze = a.Init?.Freeze ?? false,
                }, log, parallel, interrupt.Token);
        }
        catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
        {
            log.WriteLine($"interrupted before the run started: no run folder was made{(a.Out is { } o ? $" ({o} is as it was)" : "")}.");
            return interrupt.ExitCode;
        }
        using (run)
        {
            bool live = root && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            var outcome = live
                ? AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(ctx => run.Train(new ConsoleTrainingObserver(ctx.AddTask("starting", maxValue: run.Settings.TotalSteps), log), interrupt.Token))
                : run.Train(new ConsoleTrainingObserver(null, log), interrupt.Token);
            if (outcome == TrainingOutcome.Interrupted) return interrupt.ExitCode;
            if (run.Test(interrupt.Token) is not { } result) return 0;
            if (result.TestInterrupted == true)
            {
                log.WriteLine($"interrupted during the final test evaluation: training is complete ({result.Steps} steps, {Checkpoint.PathIn(run.Folder)}) " +
                    $"and {TrainingResult.PathIn(run.Folder)} has no test perplexity; get it with elmo eval --model {run.Folder} --test {CorpusArgument(run.Settings.TestFiles!)}");
                return interrupt.ExitCode;
            }
            if (result.TestPerplexity is double mean)
            {
                Console.WriteLine($"test perplexity: forward {result.TestPerplexityForward:F2}, backward {result.TestPerplexityBackward:F2}, mean {mean:F2} over {result.TestTokens} tokens");
                double unigram = result.UnigramTestPerplexity!.Value, ratio = unigram / mean;
                Console.WriteLine($"unigram perplexity on the same test split: {unigram:F2} (the biLM's is {(ratio >= 1 ? $"{ratio:F2}x lower" : $"{1 / ratio:F2}x higher")})");
            }
            Console.WriteLine($"model and metrics in {run.Folder}");
            return 0;
        }
    }

    /// <summary>A --test argument naming <paramref name="files"/>: their folder when they are all its files, else the files joined by commas.</summary>
    static string CorpusArgument(IReadOnlyList<string> files)
    {
        string? folder = Path.GetDirectoryName(files[0]);
        bool wholeFolder = folder is not null && files.All(f => Path.GetDirectoryName(f) == folder)
            && Directory.Exists(folder) && Directory.GetFiles(folder).Count(f => !Path.GetFileName(f).StartsWith('.')) == files.Count;
        return wholeFolder ? folder! : string.Join(",", files);
    }

    static void CheckArguments(TrainArguments a, bool root)
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
        if (a.Resume is not null && a.Preset is not null)
            throw new InputException($"--preset {a.Preset} chooses a new run's options; the run in {a.Resume} continues with its own options.json: resume without --preset.");
        if (a.FromPrevious && a.Resume is null)
            throw new InputException("--from-previous goes with --resume DIR: it picks that run's previous checkpoint.");
        // Before any work: a file in the way, or a folder that holds a run or is in use, is refused now.
        if (a.Out is { } folder && root) RunFolder.CheckNewRunTarget(folder, a.Overwrite);
    }
}
