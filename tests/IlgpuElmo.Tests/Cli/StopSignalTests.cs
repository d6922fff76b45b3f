using IlgpuElmo.Training;
using IlgpuElmo.Model;
using static IlgpuElmo.Tests.Cli.RunSafetyTests;

namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// A signal at any moment of `elmo train` gets a line saying what was kept. A named pipe as a corpus file
/// holds the program exactly where the test wants it: opening the pipe waits for the test to write.
/// </summary>
public class StopSignalTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    /// <summary>
    /// Time for the program to see a signal: .NET runs the handler on a thread of its own, so the test waits
    /// this long before letting the program go on from the pipe (milliseconds suffice; this is for a loaded machine).
    /// </summary>
    static readonly TimeSpan HandlerTime = TimeSpan.FromSeconds(2);

    [Fact]
    public void SigintWhileTheRunIsPreparedStopsWithALineAndMakesNoFolder()
    {
        using var temp = new TempDirectory();
        var dev = new Fifo(Path.Combine(temp.Path, "dev.pipe"));
        string run = Path.Combine(temp.Path, "run");
        using var elmo = new ElmoProcess(temp.Path, "train", "--train", finished.Corpus, "--dev", $"{finished.Corpus},{dev.Path}",
            "--options", finished.Options, "--min-count", "1", "--steps", "2", "--out", run);
        // The corpus check opens the pipe: the program is reading its input, before any folder exists.
        dev.WaitForReader(elmo, "the corpus check");
        elmo.Signal(2);
        Thread.Sleep(HandlerTime);
        dev.WriteAndClose("the cat sat .\n");
        Assert.Equal(130, elmo.WaitForExit());
        Assert.Contains($"interrupted before the run started: no run folder was made ({run} is as it was).", elmo.Stderr);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void SigtermDuringTheFinalTestEvaluationSaysHowToEvaluateAndResultJsonSaysSo()
    {
        using var temp = new TempDirectory();
        var test = new Fifo(Path.Combine(temp.Path, "test.pipe"));
        string run = Path.Combine(temp.Path, "run");
        using var elmo = new ElmoProcess(temp.Path, "train", "--train", finished.Corpus, "--test", $"{finished.Corpus},{test.Path}",
            "--options", finished.Options, "--min-count", "1", "--steps", "2", "--out", run);
        test.WaitForReader(elmo, "the corpus check");
        test.WriteAndClose("");
        // Training runs to its end (one checkpoint, at step 2); the test evaluation reads the first file, then waits at the pipe.
        elmo.WaitUntil(() => File.Exists(Checkpoint.PathIn(run)), "the last checkpoint");
        test.WaitForReader(elmo, "the test evaluation");
        elmo.Signal(15);
        Thread.Sleep(HandlerTime);
        test.WriteAndClose("the cat sat on the mat .\n");
        Assert.Equal(143, elmo.WaitForExit());
        Assert.Contains($"interrupted during the final test evaluation: training is complete (2 steps, {Checkpoint.PathIn(run)}) " +
            $"and {TrainingResult.PathIn(run)} has no test perplexity; get it with elmo eval --model {run} --test {finished.Corpus},{test.Path}", elmo.Stderr);
        var result = TrainingResult.Read(run);
        Assert.Equal((run, 2L, true, (double?)null), (result.Run, result.Steps, result.TestInterrupted, result.TestPerplexity));
        Assert.False(File.Exists(Path.Combine(run, RunFolderLock.OwnerFileName)));
    }
}
