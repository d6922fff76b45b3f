using IlgpuElmo.Cli;
using IlgpuElmo.Cli.Commands;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Cli;

public class CliTests
{
    [Fact]
    public void MissingCudaIsAClearErrorWithExitCode2()
    {
        using var catalog = DeviceCatalog.Discover();
        if (catalog.Devices.Any(d => d.Kind == DeviceKind.Cuda)) return; // only meaningful without a GPU
        var error = new StringWriter();
        int code = Program.Run(["selfcheck", "--device", "cuda"], error);
        Assert.Equal(2, code);
        Assert.Contains("error: --device cuda: no cuda device found", error.ToString());
        Assert.DoesNotContain("   at ", error.ToString());
    }

    [Fact]
    public void SelfCheckPassesOnTheCpu()
    {
        var output = new StringWriter();
        Assert.True(SelfCheckCommand.Run(TestDevices.Host, output), output.ToString());
        Assert.Contains("selfcheck passed", output.ToString());
        Assert.Contains("input rounding, A x 1E-6", output.ToString());
        Assert.Contains("input rounding, B x 1E+5", output.ToString());
        Assert.Contains("math measured: fp32 (inputs exact); fp32 asked: ok", output.ToString());
    }
}

public class VocabCommandTests
{
    [Fact]
    public void WritesTheVocabularyAndRejectsAMissingCorpus()
    {
        using var temp = new TempDirectory();
        temp.File("c/a.txt", "b a b\nc b a\n");
        string output = Path.Combine(temp.Path, "vocab.txt");
        Assert.Equal(0, IlgpuElmo.Cli.Program.Run(["vocab", "--train", Path.Combine(temp.Path, "c", "*.txt"), "--out", output], TextWriter.Null));
        Assert.Equal(["<S>", "</S>", "<UNK>", "b", "a", "c"], File.ReadAllLines(output));
        var error = new StringWriter();
        Assert.Equal(2, IlgpuElmo.Cli.Program.Run(["vocab", "--train", Path.Combine(temp.Path, "none", "*.txt"), "--out", output], error));
        Assert.Contains("--train", error.ToString());
    }
}
