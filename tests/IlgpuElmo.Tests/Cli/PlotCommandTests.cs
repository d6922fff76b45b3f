using IlgpuElmo.Tests.Reporting;

namespace IlgpuElmo.Tests.Cli;

public class PlotCommandTests
{
    [Fact]
    public void PlotsSeveralRunsIntoOnePngAndListsTheirPoints()
    {
        using var temp = new TempDirectory();
        temp.File("short/metrics.jsonl", HeldOutCurveTests.Metrics((10, 60, 300.0), (20, 120, 200.0)));
        temp.File("long/metrics.jsonl", HeldOutCurveTests.Metrics((10, 60, 300.0), (20, 120, 200.0), (30, 600, 150.0)));
        string png = Path.Combine(temp.Path, "curve.png");
        using var console = new CapturedConsole();
        int code = IlgpuElmo.Cli.Program.Run(["plot", Path.Combine(temp.Path, "short"), Path.Combine(temp.Path, "long"), "-o", png], Console.Error);
        Assert.True(code == 0, console.Error);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
        Assert.Contains("| short | 20 | 2.00 | 200.00 |", console.Output);
        Assert.Contains("| long | 30 | 10.00 | 150.00 |", console.Output);
    }

    [Fact]
    public void AFolderThatIsNotARunIsExitCode2NamingIt()
    {
        using var temp = new TempDirectory();
        var error = new StringWriter();
        int code = IlgpuElmo.Cli.Program.Run(["plot", temp.Path, "-o", Path.Combine(temp.Path, "curve.png")], error);
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(temp.Path, "metrics.jsonl"), error.ToString());
        Assert.False(File.Exists(Path.Combine(temp.Path, "curve.png")));
    }
}
