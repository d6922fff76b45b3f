using System.Diagnostics;

namespace IlgpuElmo.Cli.Progress;

/// <summary>
/// Progress as plain lines, for a redirected stderr: one line when <c>interval</c> has passed since the
/// last, with the count, percentage, items/s and ETA ("embed: 1,200/5,000 tokens (24.0 %), 35.2 tokens/s,
/// ETA 00:01:48"), and a closing line from <see cref="Finish"/>. Rates are over the whole run so far.
/// </summary>
sealed class ProgressLog : IProgress<long>
{
    readonly string description, unit;
    readonly long total;
    readonly TextWriter log;
    readonly TimeSpan interval;
    readonly Func<TimeSpan> clock;
    TimeSpan lastLine = TimeSpan.Zero;
    long done;

    /// <param name="clock">Time since the work started (default: a stopwatch started now); tests pass their own.</param>
    public ProgressLog(string description, string unit, long total, TextWriter log, TimeSpan interval, Func<TimeSpan>? clock = null)
    {
        this.description = description;
        this.unit = unit;
        this.total = total;
        this.log = log;
        this.interval = interval;
        var watch = Stopwatch.StartNew();
        this.clock = clock ?? (() => watch.Elapsed);
    }

    public void Report(long value)
    {
        done = value;
        var now = clock();
        if (now - lastLine < interval) return;
        lastLine = now;
        log.WriteLine(Line(now));
    }

    /// <summary>The closing line: everything done, how long it took, the mean rate.</summary>
    public void Finish()
    {
        var now = clock();
        log.WriteLine($"{description}: {done:N0} {unit} in {now.TotalSeconds:F1} s ({Rate(done / Math.Max(now.TotalSeconds, 1e-9), unit)})");
    }

    string Line(TimeSpan elapsed)
    {
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
        string percent = total > 0 ? $" ({100.0 * done / total:F1} %)" : "";
        string eta = rate > 0 && total > done ? $", ETA {Duration(TimeSpan.FromSeconds((total - done) / rate))}" : "";
        return $"{description}: {done:N0}/{total:N0} {unit}{percent}, {Rate(rate, unit)}{eta}";
    }

    public static string Rate(double perSecond, string unit) => perSecond >= 100 ? $"{perSecond:F0} {unit}/s" : $"{perSecond:F1} {unit}/s";

    static string Duration(TimeSpan t) => $"{(int)t.TotalHours:00}:{t.Minutes:00}:{t.Seconds:00}";
}
