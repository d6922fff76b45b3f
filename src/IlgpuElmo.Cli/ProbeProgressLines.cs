using System.Diagnostics;
using IlgpuElmo.Probing;

namespace IlgpuElmo.Cli;

/// <summary>
/// Shows a probe run's progress as plain lines (safe in logs and pipes): one when a stage starts, then
/// at most one every <see cref="Interval"/>, and one when it ends, each with the run's elapsed time.
/// </summary>
sealed class ProbeProgressLines(TextWriter log) : IProgress<ProbeProgress>
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    readonly Stopwatch elapsed = Stopwatch.StartNew();
    string? stage;
    long lastDone = -1;
    TimeSpan lastLine;

    public void Report(ProbeProgress p)
    {
        bool newStage = p.Stage != stage, done = p.Done >= p.Total;
        if (!newStage && (p.Done == lastDone || !done && elapsed.Elapsed - lastLine < Interval)) return;
        stage = p.Stage;
        lastDone = p.Done;
        lastLine = elapsed.Elapsed;
        double percent = p.Total == 0 ? 100 : 100.0 * p.Done / p.Total;
        log.WriteLine($"probe: {p.Stage}: {p.Done:N0}/{p.Total:N0} {p.Unit} ({percent:F0} %), {elapsed.Elapsed:m\\:ss} elapsed");
    }
}
