namespace IlgpuElmo.Tests.Cli;

/// <summary>A command line that does not parse: one `error:` line naming what is wrong and where the help is, exit code 2, no help dump.</summary>
public class CommandLineErrorsTests
{
    static (int Code, string Error, string Output) Elmo(params string[] args)
    {
        var error = new StringWriter();
        using var console = new CapturedConsole();
        int code = IlgpuElmo.Cli.Program.Run(args, error);
        return (code, error.ToString(), console.Output + console.Error);
    }

    [Theory]
    [InlineData("train --steps ten", "error: --steps: 'ten' is not a whole number; see 'elmo train --help'")]
    [InlineData("train --epochs two", "error: --epochs: 'two' is not a number; see 'elmo train --help'")]
    [InlineData("train --seed -1", "error: --seed: -1 is out of range (0 to 18446744073709551615); see 'elmo train --help'")]
    [InlineData("probe pos --epochs 1.5", "error: --epochs: '1.5' is not a whole number; see 'elmo probe pos --help'")]
    [InlineData("train --stpes 10", "error: unknown option '--stpes' for 'elmo train' (did you mean '--steps'?); see 'elmo train --help'")]
    [InlineData("train --no-such-thing", "error: unknown option '--no-such-thing' for 'elmo train'; see 'elmo train --help'")]
    [InlineData("trian", "error: 'trian' is not a command of 'elmo' (did you mean 'train'?); see 'elmo --help'")]
    [InlineData("fit", "error: 'fit' is not a command of 'elmo' (commands: devices, selfcheck, vocab, train, eval, embed, dump-token-embeddings, export, probe, bench, plot); see 'elmo --help'")]
    [InlineData("train corpus.txt", "error: unexpected argument 'corpus.txt' for 'elmo train'; see 'elmo train --help'")]
    [InlineData("embed --input s.txt", "error: --out is required; see 'elmo embed --help'")]
    [InlineData("probe", "error: 'elmo probe' needs a command: pos; see 'elmo probe --help'")]
    [InlineData("", "error: 'elmo' needs a command: devices, selfcheck, vocab, train, eval, embed, dump-token-embeddings, export, probe, bench, plot; see 'elmo --help'")]
    public void AParseErrorIsOneLineWithExitCode2AndNoHelp(string line, string expected)
    {
        var r = Elmo(line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, r.Code);
        Assert.Equal(expected, r.Error.TrimEnd('\n', '\r'));
        Assert.Equal("", r.Output);
    }

    [Fact]
    public void HelpIsPrintedWhenAskedWithExitCode0()
    {
        var r = Elmo("train", "--help");
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Error);
        Assert.Contains("--steps", r.Output);
        Assert.Contains("--overwrite", Elmo("embed", "--help").Output);
    }

    [Fact]
    public void TheProcessExitsWith2AndPrintsNothingOnStdout()
    {
        using var temp = new TempDirectory();
        using var elmo = new ElmoProcess(temp.Path, "train", "--steps", "ten");
        Assert.Equal(2, elmo.WaitForExit());
        Assert.Equal("error: --steps: 'ten' is not a whole number; see 'elmo train --help'", elmo.Stderr.Trim());
        Assert.Equal("", elmo.Stdout.Trim());
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }
}
