using IlgpuElmo.Data;

namespace IlgpuElmo.Reporting;

/// <summary>One held-out evaluation of a run: the step, the training wall time when it was made, and the mean perplexity.</summary>
public sealed record HeldOutPoint(long Step, double ElapsedSeconds, double Perplexity);

/// <summary>
/// A run's held-out perplexity against training wall time, read from its metrics.jsonl: an evaluation
/// record ("dev_perplexity") is placed at the "elapsed_s" of the step record with the same step (the
/// evaluation runs right after that step, so the time includes the earlier evaluations).
/// </summary>
public static class HeldOutCurve
{
    public static IReadOnlyList<HeldOutPoint> Read(string runDirectory)
    {
        string path = Path.Combine(runDirectory, "metrics.jsonl");
        if (!File.Exists(path))
            throw new InputException($"{path} does not exist; give a run folder written by `elmo train`.");
        var records = new MetricsLog(path).ReadAll();
        var elapsed = new Dictionary<long, double>();
        foreach (var r in records)
            if (r["step"] is { } step && r["elapsed_s"] is { } seconds) elapsed[step.GetValue<long>()] = seconds.GetValue<double>();
        var points = new List<HeldOutPoint>();
        foreach (var r in records)
        {
            if (r["dev_perplexity"] is not { } perplexity || r["step"] is not { } stepNode) continue;
            long step = stepNode.GetValue<long>();
            if (elapsed.TryGetValue(step, out double seconds)) points.Add(new HeldOutPoint(step, seconds, perplexity.GetValue<double>()));
        }
        if (points.Count == 0)
            throw new InputException($"{path} has no held-out evaluation; train with a --dev split (the default run has one) and --eval-every.");
        return points;
    }
}
