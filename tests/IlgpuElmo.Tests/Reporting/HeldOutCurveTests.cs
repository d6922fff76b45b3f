using IlgpuElmo.Reporting;

namespace IlgpuElmo.Tests.Reporting;

public class HeldOutCurveTests
{
    /// <summary>metrics.jsonl as the trainer writes it: a record per step, an evaluation record after some steps.</summary>
    public static string Metrics(params (long Step, double Elapsed, double? Perplexity)[] steps) => string.Concat(steps.Select(s =>
        $"{{\"step\":{s.Step},\"loss\":5.0,\"elapsed_s\":{s.Elapsed}}}\n" +
        (s.Perplexity is { } p ? $"{{\"step\":{s.Step},\"dev_perplexity\":{p},\"dev_tokens\":100}}\n" : "")));

    [Fact]
    public void PlacesEachEvaluationAtItsStepsWallTime()
    {
        using var temp = new TempDirectory();
        temp.File("run/metrics.jsonl", Metrics((1, 0.5, null), (2, 1.25, 400.5), (3, 2.0, null), (4, 3.75, 210.25)));
        var points = HeldOutCurve.Read(Path.Combine(temp.Path, "run"));
        Assert.Equal([new HeldOutPoint(2, 1.25, 400.5), new HeldOutPoint(4, 3.75, 210.25)], points);
    }

    [Fact]
    public void ARunWithoutMetricsOrEvaluationsIsAnInputError()
    {
        using var temp = new TempDirectory();
        Assert.Contains("metrics.jsonl does not exist", Assert.Throws<InputException>(() => HeldOutCurve.Read(temp.Path)).Message);
        temp.File("metrics.jsonl", Metrics((1, 0.5, null)));
        Assert.Contains("no held-out evaluation", Assert.Throws<InputException>(() => HeldOutCurve.Read(temp.Path)).Message);
    }
}
