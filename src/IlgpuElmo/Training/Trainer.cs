using System.Diagnostics;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Training;

/// <summary>How long to train and how often to checkpoint and evaluate.</summary>
public sealed record TrainingPlan(long TotalSteps, int CheckpointEvery, int EvaluateEvery, double ClipNorm, ulong Seed);

public enum TrainingOutcome { Completed, Interrupted }

/// <summary>Training stopped because the loss or the gradient stopped being a finite number.</summary>
public sealed class TrainingDivergedException(string message) : InputException(message);

/// <summary>
/// The training loop: a window, forward and backward, global-norm clipping, the optimizer step, all
/// enqueued on the device; then one host wait per step, reading the losses and gradient norm together;
/// metrics every step, a checkpoint every N steps and when cancelled (Ctrl-C, SIGTERM, SIGHUP), held-out perplexity every
/// M steps. Every random choice derives from (seed, step), so a resumed run makes the same choices an
/// uninterrupted one would.
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

    public long Step => step;
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
        if (position.OptionsFingerprint != optionsFingerprint)
            throw new InputException($"Checkpoint '{path}' was made with different options than this command's; resume with the run's own options.json.");
        if (position.VocabularyFingerprint != vocabularyFingerprint)
            throw new InputException($"Checkpoint '{path}' was made with a different vocabulary; resume with the run's own vocab.txt.");
        if (position.Step >= plan.TotalSteps)
            throw new InputException(
                $"The run in {runDirectory} has done {position.Step} steps and its target is {plan.TotalSteps}: " +
                $"to train further, ask for more than {position.Step} steps (--steps N, or --epochs N).");
        Checkpoint.Restore(path, device.Stream, tensors, CheckpointTensors());
        if (fromPrevious) Checkpoint.SetAsideLatest(runDirectory);
        optimizer.StepCount = position.Step;
        train.Restore(position.Batcher);
        step = position.Step;
        tokensSeen = position.TokensSeen;
        elapsedBefore = position.ElapsedSeconds;
        metrics.TruncateAfter(step);
        observer.OnMessage($"resumed from {path} at step {step} of {plan.TotalSteps}");
    }

    public TrainingOutcome Run(CancellationToken cancel)
    {
        using var scalars = new StepScalars(device);
        var watch = Stopwatch.StartNew();
        long startStep = step, startTokens = tokensSeen;
        if (step == 0 && File.Exists(metrics.Path)) File.Delete(metrics.Path);
        while (step < plan.TotalSteps)
        {
            if (cancel.IsCancellationRequested)
            {
                SaveCheckpoint(watch);
                observer.OnMessage($"interrupted: checkpoint saved at step {step}; continue with --resume {runDirectory}");
                return TrainingOutcome.Interrupted;
            }
            var batch = train.Next() ?? throw new InvalidOperationException("The training batcher ran dry.");
            ulong stepSeed = CounterRandom.Hash(plan.Seed, (ulong)step);
            model.TrainStep(batch, step, stepSeed, scalars);
            optimizer.ClipAndStep((float)plan.ClipNorm, scalars.NormAndScale);
            // The step's one host wait: losses and norm in one copy, for the metrics and the divergence check.
            var (lossF, lossB, norm, _) = scalars.Read(device.Stream);
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
            metrics.Append(new JsonObject
            {
                ["step"] = step, ["epoch"] = train.Epoch, ["loss_forward"] = lossF, ["loss_backward"] = lossB,
                ["loss"] = report.MeanLoss, ["loss_kind"] = model.TrainingLossName, ["grad_norm"] = norm,
                ["tokens_per_s"] = rate, ["tokens_seen"] = tokensSeen, ["elapsed_s"] = elapsedBefore + seconds,
            });
            observer.OnStep(report, model.TrainingLossName, model.TrainingLossIsExact);
            bool last = step == plan.TotalSteps;
            if (plan.CheckpointEvery > 0 && step % plan.CheckpointEvery == 0 || last) SaveCheckpoint(watch);
            if (heldOut is not null && (plan.EvaluateEvery > 0 && step % plan.EvaluateEvery == 0 || last)) Evaluate();
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
            vocabularyFingerprint, plan.Seed, train.State());
        Checkpoint.Save(runDirectory, device.Stream, position, CheckpointTensors());
        observer.OnCheckpoint(step, Checkpoint.PathIn(runDirectory));
    }
}
