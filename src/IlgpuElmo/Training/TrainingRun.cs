using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;
using IlgpuElmo.Model;
using IlgpuElmo.Reporting;

namespace IlgpuElmo.Training;

/// <summary>
/// A training run as `elmo train` makes one, for .NET programs: <see cref="Start"/> a new run (options from
/// a file, a preset or an initial model; the corpus read and checked, the step target set, the folder
/// claimed under its lock and the run's options, vocabulary and plan written into it) or <see cref="Resume"/>
/// one from its checkpoint; then <see cref="Train"/> to the target (progress through an
/// <see cref="ITrainingObserver"/>, a checkpoint when cancelled) and <see cref="Test"/> for the test
/// perplexity and result.json. Disposing it releases the model and the folder's lock.
/// </summary>
/// <remarks>
/// With <see cref="DataParallel"/>, every rank makes the same calls: rank 0 claims and writes the folder,
/// the others read its plan, each trains its share of the streams, and only rank 0 writes and tests.
/// </remarks>
public sealed class TrainingRun : IDisposable
{
    readonly RunFolderLock? folderLock;
    readonly Replicas? replicas;
    readonly BidirectionalLanguageModel model = null!;
    readonly IGradientAllReduce? allReduce;
    readonly Optimizer optimizer = null!;
    readonly Trainer trainer = null!;

    TrainingRun(ComputeDevice device, PreparedRun prepared, ModelInitialization? init, TextWriter log, DataParallel? parallel)
    {
        (Folder, folderLock, Settings, Options, Vocabulary) = prepared;
        try
        {
            if (folderLock?.StaleOwner is { } stale)
                log.WriteLine($"warning: {Folder} had a stale lock from a run that is no longer running ({stale}); taking the folder over.");
            device.ApplyModelPrecision(Options.Precision);
            log.WriteLine($"device: {device.Description}; GEMM {device.Gemm.Backend.Name}, precision {device.Precision.ToString().ToLowerInvariant()}");
            replicas = parallel is null ? null : new Replicas(parallel.World, Options.BatchSize);
            model = BidirectionalLanguageModel.Create(device, Options, Vocabulary, replicas?.Streams);
            if (init is not null)
            {
                foreach (var line in init.Apply(model)) log.WriteLine(line);
                init.Dispose();
            }
            if (replicas is not null)
            {
                replicas.BroadcastFromRoot(device.Stream, model.Parameters);
                log.WriteLine($"data-parallel: {replicas.Count} ranks over MPI ({parallel!.World.Library}), {replicas.Streams.Local} of the {Options.BatchSize} streams each");
            }
            model.EncoderFrozen = Settings.FreezeEncoder;
            log.WriteLine($"model: {model.Describe()}{(model.EncoderFrozen ? "; token encoder frozen (--freeze)" : "")}");
            log.WriteLine($"optimizer: {Options.Optimizer.ToString().ToLowerInvariant()}, learning rate {Options.EffectiveLearningRate} " +
                $"({(Options.LearningRateSchedule ?? LearningRateSchedule.Constant).Describe()}), {Settings.TotalSteps} steps");
            allReduce = parallel?.CreateAllReduce(device, log);
            optimizer = new Optimizer(device, model.TrainableParameters, new OptimizerOptions(Options.Optimizer, Options.EffectiveLearningRate, Options.InitialAccumulatorValue))
            {
                AllReduce = allReduce,
            };
            var batcher = new LmBatcher(Settings.TrainFiles, Vocabulary, Options.BatchSize, Options.UnrollSteps, training: true, Settings.Seed);
            Func<LmBatcher>? heldOut = Settings.DevFiles is { } devs
                ? () => new LmBatcher(devs, Vocabulary, Options.BatchSize, Options.UnrollSteps, training: false, Settings.Seed)
                : null;
            var plan = new TrainingPlan(Settings.TotalSteps, Settings.CheckpointEvery, Settings.EvalEvery, Options.AllClipNormVal, Settings.Seed,
                Options.LearningRateSchedule);
            trainer = new Trainer(device, model, optimizer, batcher, heldOut, Folder, plan, new MessageLog(log),
                Checkpoint.Fingerprint(Options.ToJson()), Checkpoint.Fingerprint(string.Join('\n', Vocabulary.Words)))
            {
                Replicas = replicas,
                RunId = Settings.RunId,
            };
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The run folder.</summary>
    public string Folder { get; }

    /// <summary>The run's corpus and plan (run.json).</summary>
    public RunSettings Settings { get; }

    /// <summary>The run's options (options.json), with the vocabulary size, seed and corpus size filled in.</summary>
    public BilmOptions Options { get; }

    public Vocabulary Vocabulary { get; }

    /// <summary>The model being trained.</summary>
    public BidirectionalLanguageModel Model => model;

    /// <summary>Steps done so far.</summary>
    public long Step => trainer.Step;

    /// <summary>This process writes the folder: always on one device, rank 0 of a data-parallel run.</summary>
    bool Writes => replicas?.IsRoot ?? true;

    /// <summary>
    /// Starts a new run: everything the request names is read and checked before the folder is created or
    /// claimed, then the folder is claimed (refusing one that holds a run unless told to overwrite, or one in
    /// use) and the run's options.json, vocab.txt and run.json are written. Notes and warnings go to <paramref name="log"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="cancel"/> stops the preparation before the folder is claimed (an
    /// <see cref="OperationCanceledException"/>, nothing written); once the folder is claimed the run is made,
    /// and a cancelled <see cref="Train"/> saves a checkpoint at step 0.
    /// </remarks>
    public static TrainingRun Start(ComputeDevice device, NewRunRequest request, TextWriter? log = null, DataParallel? parallel = null,
        CancellationToken cancel = default)
    {
        log ??= TextWriter.Null;
        int ranks = parallel?.World.Size ?? 1;
        using var init = ModelInitialization.Open(device, request.InitFrom, request.InitOptions, request.InitWeights);
        var prepared = RunPreparation.Prepare(
            () => RunPreparation.New(request, device, init, log, ranks, cancel),
            folder => RunPreparation.Resume(new ResumeRequest(folder), device, log, ranks, claim: false),
            parallel?.World);
        return new TrainingRun(device, prepared, init, log, parallel);
    }

    /// <summary>
    /// Continues the run in <see cref="ResumeRequest.Folder"/> from its checkpoint (parameters, optimizer,
    /// carried states, data position, step), to a new target if the request gives one; the new target is
    /// recorded in run.json only once the checkpoint has been accepted.
    /// </summary>
    public static TrainingRun Resume(ComputeDevice device, ResumeRequest request, TextWriter? log = null, DataParallel? parallel = null)
    {
        log ??= TextWriter.Null;
        int ranks = parallel?.World.Size ?? 1;
        var prepared = RunPreparation.Prepare(
            () => RunPreparation.Resume(request, device, log, ranks, claim: true),
            _ => RunPreparation.Resume(request, device, log, ranks, claim: false),
            parallel?.World);
        var run = new TrainingRun(device, prepared, null, log, parallel);
        try
        {
            run.trainer.Resume(request.FromPrevious);
            if (run.Writes) run.Settings.Write(run.Folder);
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Trains to the target: <see cref="TrainingOutcome.Interrupted"/> when <paramref name="cancel"/> stopped it
    /// (a checkpoint was saved at the current step). loss.png is drawn either way.
    /// </summary>
    public TrainingOutcome Train(ITrainingObserver observer, CancellationToken cancel = default)
    {
        trainer.Observer = observer;
        try
        {
            return trainer.Run(cancel);
        }
        finally
        {
            if (Writes) LossChart.Write(trainer.Metrics, Path.Combine(Folder, "loss.png"));
        }
    }

    /// <summary>
    /// The test perplexity (when the run has a test corpus) beside the unigram model's, written with the
    /// step count to result.json; null on the ranks other than 0. When <paramref name="cancel"/> stops the
    /// evaluation, result.json says so (<see cref="TrainingResult.TestInterrupted"/>): the trained model is
    /// complete, and `elmo eval` gives its test perplexity.
    /// </summary>
    public TrainingResult? Test(CancellationToken cancel = default)
    {
        if (!Writes) return null;
        var result = new TrainingResult(Folder, Settings.TotalSteps);
        if (Settings.TestFiles is { } tests)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            double f, b;
            long tokens;
            try
            {
                (f, b, tokens) = model.Evaluate(new LmBatcher(tests, Vocabulary, Options.BatchSize, Options.UnrollSteps, training: false, Settings.Seed), cancel: cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                result = result with { TestInterrupted = true };
                result.Write(Folder);
                return result;
            }
            var report = EvaluationReport.FromLosses(Settings.TotalSteps, f, b, tokens, watch.Elapsed.TotalSeconds);
            result = result with
            {
                TestPerplexityForward = report.ForwardPerplexity,
                TestPerplexityBackward = report.BackwardPerplexity,
                TestPerplexity = report.MeanPerplexity,
                UnigramTestPerplexity = UnigramBaseline.Perplexity(Vocabulary, Settings.TrainFiles, tests),
                TestTokens = tokens,
            };
        }
        result.Write(Folder);
        return result;
    }

    public void Dispose()
    {
        optimizer?.Dispose();
        (allReduce as IDisposable)?.Dispose();
        model?.Dispose();
        folderLock?.Dispose();
    }

    /// <summary>Before <see cref="Train"/> is given an observer, the trainer's messages (a resume's) go to the log.</summary>
    sealed class MessageLog(TextWriter log) : ITrainingObserver
    {
        public void OnStep(StepReport report, string lossName, bool lossIsExact) { }
        public void OnEvaluation(EvaluationReport report) { }
        public void OnCheckpoint(long step, string path) { }
        public void OnMessage(string message) => log.WriteLine(message);
    }
}
