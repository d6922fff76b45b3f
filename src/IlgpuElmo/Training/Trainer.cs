using System.Diagnostics;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Distributed;
using IlgpuElmo.Kernels;
using IlgpuElmo.Devices;
using IlgpuElmo.Model;

namespace IlgpuElmo.Training;

/// <summary>How long to train and how often to checkpoint and evaluate.</summary>
/// <param name="Schedule">The learning rate's multiplier by step over <paramref name="TotalSteps"/>; null: constant.</param>
public sealed record TrainingPlan(long TotalSteps, int CheckpointEvery, int EvaluateEvery, double ClipNorm, ulong Seed,
    LearningRateSchedule? Schedule = null);

public enum TrainingOutcome { Completed, Interrupted }

/// <summary>Training stopped because the loss or the gradient stopped being a finite number.</summary>
public sealed class TrainingDivergedException(string message) : InputException(message);

/// <summary>
/// The training loop: a window, forward and backward, global-norm clipping, the optimizer step, all
/// enqueued on the device; then one host wait per step, reading the losses and gradient norm together;
/// metrics every step, a checkpoint every N steps and when cancelled (Ctrl-C, SIGTERM, SIGHUP), held-out perplexity every
/// M steps. Every random choice derives from (seed, step), so a resumed run makes the same choices an
/// uninterrupted one would.
/// With <see cref="Replicas"/> (data-parallel ranks), each rank trains on its share of every window; losses
/// and the decision to stop are combined every step; rank 0 alone writes metrics, evaluates and saves the
/// checkpoints, which hold every rank's carried states.
/// </summary>
public sealed class Trainer(
    ComputeDevice device,
    ILanguageModelTrainee model,
    Optimizer optimizer,
    LmBatcher train,
    Func<LmBatcher>? heldOut,
    string runDirectory,
    TrainingPlan plan,
    ITrainingObserver observer,
    string optionsFingerprint,
    string vocabularyFingerprint)
{
    readonly MetricsLog metrics = new(Path.Combine(runDirectory, "metrics.jsonl"));
    long step, tokensSeen;
    double elapsedBefore;
    bool stopAgreed;

    /// <summary>The data-parallel ranks this trainer is one of; null on one device.</summary>
    public Replicas? Replicas { get; init; }

    /// <summary>The run's identity (run.json), written into every checkpoint; a checkpoint of another run is refused on resume. Null: none (older runs).</summary>
    public string? RunId { get; init; }

    bool Writes => Replicas?.IsRoot ?? true;

    public long Step => step;

    /// <summary>Where steps, evaluations, checkpoints and messages are reported from now on.</summary>
    public ITrainingObserver Observer
    {
        get => observer;
        set => observer = value;
    }
    public MetricsLog Metrics => metrics;

    IEnumerable<(string Name, Tensors.DeviceTensor<float> Tensor)> CheckpointTensors() =>
        model.Parameters.Select(p => (p.Name, p.Value))
            .Concat(optimizer.StateTensors().Select(t => ("optimizer/" + t.Name, t.Tensor)))
            .Concat(model.StateTensors.Select(t => ("state/" + t.Name, t.Tensor)));

    /// <summary>
    /// Continues from DIR's newest checkpoint (or, with <paramref name="fromPrevious"/>, the one before
    /// it, setting a damaged newest one aside): parameters, optimizer, LSTM states, data position, step,
    /// metrics. A checkpoint already at or past the plan's last step is an error naming both, before
    /// anything in the folder changes.
    /// </summary>
    public void Resume(bool fromPrevious = false)
    {
        string path = fromPrevious ? Checkpoint.PreviousPathIn(runDirectory) : Checkpoint.LatestPathIn(runDirectory);
        var (position, tensors) = Checkpoint.Load(runDirectory, fromPrevious);
        int ranks = Replicas?.Count ?? 1;
        if (position.Ranks != ranks)
            throw new InputException(
                $"Checkpoint '{path}' was written by a run of {position.Ranks} rank(s) and this one has {ranks}: resume it with the same count " +
                (position.Ranks == 1 ? "(without --distributed)." : $"(mpiexec.mpich -n {position.Ranks} elmo train --distributed --resume {runDirectory})."));
        Checkpoint.CheckOwner(path, position, RunId);
        if (position.OptionsFingerprint != optionsFingerprint)
            throw new InputException($"Checkpoint '{path}' was made with different options than this command's; resume with the run's own options.json.");
        if (position.VocabularyFingerprint != vocabularyFingerprint)
            throw new InputException($"Checkpoint '{path}' was made with a different vocabulary; resume with the run's own vocab.txt.");
        if (position.Step >= plan.TotalSteps)
            throw new InputException(
                $"The run in {runDirectory} has done {position.Step} steps and its target is {plan.TotalSteps}: " +
                $"to train further, ask for more than {position.Step} steps (--steps N, or --epochs N).");
        if (Replicas is { } replicas)
            foreach (var (name, _) in model.StateTensors)
                tensors["state/" + name] = replicas.ShareOfStreams(tensors["state/" + name].Shape, tensors["state/" + name].Data);
        Checkpoint.Restore(path, device.Stream, tensors, CheckpointTensors());
        if (fromPrevious && Writes) Checkpoint.SetAsideLatest(runDirectory);
        optimizer.StepCount = position.Step;
        train.Restore(position.Batcher);
        step = position.Step;
        tokensSeen = position.TokensSeen;
        elapsedBefore = position.ElapsedSeconds;
        if (Writes) metrics.TruncateAfter(step);
        observer.OnMessage($"resumed from {path} at step {step} of {plan.TotalSteps}");
    }

    public TrainingOutcome Run(CancellationToken cancel)
    {
        using var scalars = new StepScalars(device);
        var watch = Stopwatch.StartNew();
        long startStep = step, startTokens = tokensSeen;
        if (Writes && step == 0 && File.Exists(metrics.Path)) File.Delete(metrics.Path);
        while (step < plan.TotalSteps)
        {
            if (Replicas is null ? cancel.IsCancellationRequested : stopAgreed)
            {
                SaveCheckpoint(watch);
                observer.OnMessage($"interrupted: checkpoint saved at step {step}; continue with --resume {runDirectory}");
                return TrainingOutcome.Interrupted;
            }
            var batch = train.Next() ?? throw new InvalidOperationException("The training batcher ran dry.");
            ulong stepSeed = CounterRandom.Hash(plan.Seed, (ulong)step);
            model.TrainStep(Replicas?.ShareOf(batch) ?? batch, step, stepSeed, scalars);
            double learningRateScale = (plan.Schedule ?? LearningRateSchedule.Constant).Multiplier(step, plan.TotalSteps);
            optimizer.ClipAndStep((float)plan.ClipNorm, scalars.NormAndScale, (float)learningRateScale);
            // The step's one host wait: losses and norm in one copy, for the metrics and the divergence check.
            var (lossF, lossB, norm, _) = scalars.Read(device.Stream);
            if (Replicas is { } replicas) (lossF, lossB, stopAgreed) = replicas.Combine(lossF, lossB, cancel.IsCancellationRequested);
            if (!double.IsFinite(lossF) || !double.IsFinite(lossB) || !double.IsFinite(norm))
                throw new TrainingDivergedException(
                    $"Training diverged at step {step + 1}: loss forward {lossF}, backward {lossB}, gradient norm {norm}. " +
                    $"The last good checkpoint is kept in {runDirectory}; resume from it with a lower learning_rate or all_clip_norm_val.");
            step++;
            tokensSeen += batch.TargetCount * 2L;
            double seconds = watch.Elapsed.TotalSeconds;
            double rate = (tokensSeen - startTokens) / Math.Max(seconds, 1e-9);
            double perStep = seconds / (step - startStep);
            var report = new StepReport(step, plan.TotalSteps, train.Epoch, lossF, lossB, norm, rate,
                TimeSpan.FromSeconds(elapsedBefore + seconds), TimeSpan.FromSeconds(perStep * (plan.TotalSteps - step)));
            if (Writes)
            {
                metrics.Append(new JsonObject
                {
                    ["step"] = step, ["epoch"] = train.Epoch, ["loss_forward"] = lossF, ["loss_backward"] = lossB,
                    ["loss"] = report.MeanLoss, ["loss_kind"] = model.TrainingLossName, ["grad_norm"] = norm,
                    ["learning_rate"] = optimizer.Options.LearningRate * learningRateScale,
                    ["tokens_per_s"] = rate, ["tokens_seen"] = tokensSeen, ["elapsed_s"] = elapsedBefore + seconds,
                });
                observer.OnStep(report, model.TrainingLossName, model.TrainingLossIsExact);
            }
            bool last = step == plan.TotalSteps;
            if (plan.CheckpointEvery > 0 && step % plan.CheckpointEvery == 0 || last) SaveCheckpoint(watch);
            // Rank 0 alone evaluates; the others wait for it in the next step's first collective.
            if (Writes && heldOut is not null && (plan.EvaluateEvery > 0 && step % plan.EvaluateEvery == 0 || last)) Evaluate();
        }
        return TrainingOutcome.Completed;
    }

    /// <summary>Exact held-out perplexity now; also appended to metrics.jsonl.</summary>
    public EvaluationReport Evaluate()
    {
        var watch = Stopwatch.StartNew();
        var (f, b, tokens) = model.Evaluate(heldOut!());
        var report = EvaluationReport.FromLosses(step, f, b, tokens, watch.Elapsed.TotalSeconds);
        metrics.Append(new JsonObject
        {
            ["step"] = step, ["dev_perplexity_forward"] = report.ForwardPerplexity, ["dev_perplexity_backward"] = report.BackwardPerplexity,
            ["dev_perplexity"] = report.MeanPerplexity, ["dev_tokens"] = tokens,
        });
        observer.OnEvaluation(report);
        return report;
    }

    void SaveCheckpoint(Stopwatch watch)
    {
        var position = new TrainerPosition(step, tokensSeen, elapsedBefore + watch.Elapsed.TotalSeconds, optionsFingerprint,
            vocabularyFingerprint, plan.Seed, train.State(), Replicas?.Count ?? 1, RunId);
        if (Replicas is { } replicas)
        {
            // Parameters and optimizer state are identical on every rank; the carried states are each rank's own streams.
            var states = model.StateTensors.Select(t => ("state/" + t.Name, replicas.GatherStreams(device.Stream, t.Tensor))).ToList();
            if (!replicas.IsRoot) return;
            var shared = model.Parameters.Select(p => (p.Name, p.Value))
                .Concat(optimizer.StateTensors().Select(t => ("optimizer/" + t.Name, t.Tensor)))
                .Select(t => (t.Item1, t.Item2.Shape.Dims.ToArray(), t.Item2.ToArray(device.Stream)));
            Checkpoint.Save(runDirectory, position, shared.Concat(states.Select(s => (s.Item1, s.Item2.Shape, s.Item2.Data))));
        }
        else Checkpoint.Save(runDirectory, device.Stream, position, CheckpointTensors());
        observer.OnCheckpoint(step, Checkpoint.PathIn(runDirectory));
    }
}
