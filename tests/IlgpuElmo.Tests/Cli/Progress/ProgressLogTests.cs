using IlgpuElmo.Cli.Progress;

namespace IlgpuElmo.Tests.Cli.Progress;

public class ProgressLogTests
{
    [Fact]
    public void WritesALineOncePerIntervalWithRateAndEtaThenAClosingLine()
    {
        var now = TimeSpan.Zero;
        var output = new StringWriter();
        var log = new ProgressLog("embed", "tokens", 1000, output, TimeSpan.FromSeconds(5), () => now);
        now = TimeSpan.FromSeconds(2);
        log.Report(100);
        Assert.Equal("", output.ToString());
        now = TimeSpan.FromSeconds(5);
        log.Report(250); // 50 tokens/s with 750 to go: 15 s left
        now = TimeSpan.FromSeconds(7);
        log.Report(300); // within the interval of the last line: silent
        now = TimeSpan.FromSeconds(400);
        log.Report(1000);
        log.Finish();
        Assert.Equal(
        [
            "embed: 250/1,000 tokens (25.0 %), 50.0 tokens/s, ETA 00:00:15",
            "embed: 1,000/1,000 tokens (100.0 %), 2.5 tokens/s",
            "embed: 1,000 tokens in 400.0 s (2.5 tokens/s)",
        ], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }
}
