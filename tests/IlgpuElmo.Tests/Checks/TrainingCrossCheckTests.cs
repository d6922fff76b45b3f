using IlgpuElmo.Checks;
using IlgpuElmo.Cli;
using IlgpuElmo.Cli.Commands;
using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Cli;

namespace IlgpuElmo.Tests.Checks;

public class TrainingCrossCheckTests
{
    /// <summary>
    /// `elmo selfcheck --train` on ILGPU's CPU simulation (every kernel as a GPU would run it) against host
    /// execution: the tiny model of every softmax head (full with the word encoder, sampled and adaptive with
    /// the char CNN) trains, and its losses, gradient norms, parameter changes and embeddings agree within FP32's tolerances.
    /// </summary>
    [Fact]
    public void SimulatedKernelsTrainAndEmbedAsTheHostPathDoesForEveryHead()
    {
        var output = new StringWriter();
        bool passed = SelfCheckCommand.RunTraining(TestDevices.Simulated, TestDevices.Host, CrossCheckSize.Tiny, 2, output);
        string text = output.ToString();
        Assert.True(passed, text);
        Assert.Contains("execution: simulate", text);
        foreach (var name in new[] { "full (word embedding, full softmax)", "sampled (char CNN", "adaptive (char CNN" })
            Assert.Contains($"  {name}", text);
        Assert.Contains("parameter change", text);
        Assert.Contains("embedding", text);
        Assert.Contains("selfcheck --train passed", text);
    }

    /// <summary>
    /// A fault injected into the device's char CNN after training (one highway weight off by 0.01) fails the
    /// check, naming that tensor as the worst; the word-encoder model, which has no such tensor, still passes.
    /// </summary>
    [Fact]
    public void AnInjectedFaultFailsTheCheckNamingTheTensor()
    {
        var output = new StringWriter();
        const string faulty = "CNN_high_0/W_carry";
        bool passed = SelfCheckCommand.RunTraining(TestDevices.Host, TestDevices.Host, CrossCheckSize.Tiny, 1, output, model =>
        {
            var p = model.Parameters.FirstOrDefault(p => p.Name == faulty);
            if (p is null) return;
            var values = p.Value.ToArray(TestDevices.Host.Stream);
            values[5] += 0.01f;
            p.Value.CopyFrom(TestDevices.Host.Stream, values);
        });
        string text = output.ToString();
        Assert.False(passed, text);
        Assert.Contains($"selfcheck --train FAILED: worst sampled parameter {faulty}:", text);
        Assert.Contains($"    parameter {faulty}:", text);
        Assert.Matches(@"full \(word embedding, full softmax\): \d+ quantities; largest errors: loss 0, gradient norm 0, parameter change 0 .*; ok", text);
        Assert.Contains("; FAILED", text);
    }

    /// <summary>The command line: host against host passes with exit code 0; a size that does not exist is an error naming the option.</summary>
    [Fact]
    public void TheCommandLineRunsTheCheckAndRejectsAnUnknownSize()
    {
        using (var console = new CapturedConsole())
        {
            Assert.Equal(0, Program.Run(["selfcheck", "--train", "--device", "cpu", "--size", "tiny", "--steps", "1"], Console.Error));
            Assert.Contains("selfcheck --train passed", console.Output);
        }
        var error = new StringWriter();
        Assert.Equal(2, Program.Run(["selfcheck", "--train", "--device", "cpu", "--size", "huge"], error));
        Assert.Contains("--size 'huge'", error.ToString());
    }

    [Fact]
    public void ErrorsAreRelativeToTheHostAndParameterErrorsToTheChange()
    {
        Assert.Equal(0.01, CheckedQuantity.RelativeError(2.02, 2.0), 12);
        Assert.Equal(0, CheckedQuantity.RelativeError(0, 0));
        Assert.True(double.IsNaN(CheckedQuantity.RelativeError(double.NaN, 1)));
        Assert.False(new CheckedQuantity("loss", "x", double.NaN, 1).Passed);
        // Initial 1, host moved to 1.1, device to 1.099: the change is off by 0.001 of 0.1 = 1 %.
        Assert.Equal(0.01, CheckedQuantity.ChangeError([1.099f, 1f], [1.1f, 1f], [1f, 1f]), 4);
        Assert.Equal(0.5, CheckedQuantity.NormwiseError([1f, 3f], [1f, 2f]), 12);
        Assert.Equal("4.75E-7", CheckedQuantity.Format(4.75e-7));
    }
}
