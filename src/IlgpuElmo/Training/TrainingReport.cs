namespace IlgpuElmo.Training;

/// <summary>A training step's numbers as the progress display and metrics.jsonl see them.</summary>
public sealed record StepReport(long Step, long TotalSteps, int Epoch, double ForwardLoss, double BackwardLoss,
    double GradientNorm, double TokensPerSecond, TimeSpan Elapsed, TimeSpan Remaining)
{
    public double MeanLoss => (ForwardLoss + BackwardLoss) / 2;
}

/// <summary>Held-out perplexity at a step: exact (full or adaptive softmax), as bilm-tf reports it.</summary>
public sealed record EvaluationReport(long Step, double ForwardPerplexity, double BackwardPerplexity, double MeanPerplexity,
    long Tokens, double TokensPerSecond)
{
    public static EvaluationReport FromLosses(long step, double forwardNll, double backwardNll, long tokens, double seconds) =>
        new(step, Math.Exp(forwardNll), Math.Exp(backwardNll), Math.Exp((forwardNll + backwardNll) / 2), tokens,
            tokens / Math.Max(seconds, 1e-9));
}

/// <summary>Where the trainer reports to: the command line shows a live bar; tests collect.</summary>
public interface ITrainingObserver
{
    void OnStep(StepReport report, string lossName, bool lossIsExact);
    void OnEvaluation(EvaluationReport report);
    void OnCheckpoint(long step, string path);
    void OnMessage(string message);
}
