using IlgpuElmo.Data;

namespace IlgpuElmo.Reporting;

/// <summary>A run's loss.png: the training loss per direction and the held-out perplexity's log, by step.</summary>
public static class LossChart
{
    /// <summary>Draws <paramref name="metrics"/> into <paramref name="path"/>; nothing when there is no record yet.</summary>
    public static void Write(MetricsLog metrics, string path)
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
