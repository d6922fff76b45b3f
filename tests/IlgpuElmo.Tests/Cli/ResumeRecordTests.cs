using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Model;
using static IlgpuElmo.Tests.Cli.RunSafetyTests;

namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// A resumed run continues on what it recorded: the corpus, the seed, its own checkpoint. Another one given,
/// changed under it, or copied in is refused with a line naming what the run recorded and what to do instead.
/// </summary>
public class ResumeRecordTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    [Fact]
    public void AResumeGivenAnotherCorpusSeedOrPresetIsRefusedNamingWhatTheRunRecordedAndInit()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        string other = TinyModels.Corpus(temp, 30, 2);
        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6", "--train", other),
            $"--train {other}: the run in {run} continues on the corpus it recorded (1 file(s), e.g. {finished.Corpus})", $"elmo train --init {run} --train {other}");
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6", "--dev", other),
            $"--dev {other}: the run in {run} was started without --dev and continues without it", "resume without --dev");
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6", "--test", other), $"--test {other}: the run in {run}", $"--init {run} --test {other}");
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6", "--seed", "5"),
            $"--seed 5: the run in {run} was started with seed 7 and continues with it", $"--init {run} --seed 5");
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6", "--preset", "cpu-small"), "--preset cpu-small chooses a new run's options", "resume without --preset");
        AssertUnchanged(before, run);

        // The run's own corpus and seed, given again, are what it continues with.
        var r = Elmo("train", "--resume", run, "--steps", "6", "--train", finished.Corpus, "--seed", "7");
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Equal(6, LastStep(run));
    }

    [Fact]
    public void AResumeWhoseCorpusChangedOrVanishedIsRefusedNamingTheFile()
    {
        using var temp = new TempDirectory();
        string corpus = temp.File("mine.txt", File.ReadAllText(finished.Corpus));
        string run = Path.Combine(temp.Path, "run");
        var r = Elmo("train", "--train", corpus, "--options", finished.Options, "--min-count", "1", "--steps", "2", "--out", run);
        Assert.True(r.Code == 0, r.Error + r.Log);
        long bytes = new FileInfo(corpus).Length;

        File.AppendAllText(corpus, "a new line .\n");
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "3"),
            $"--resume {run}: the run's training file {corpus} has changed since the run started ({bytes} bytes then, {bytes + 13} now)",
            "put the file back as it was", $"elmo train --init {run} --train ...");

        // The same text written again (a new modification time) is the run's corpus.
        File.WriteAllText(corpus, File.ReadAllText(finished.Corpus));
        r = Elmo("train", "--resume", run, "--steps", "3");
        Assert.True(r.Code == 0, r.Error + r.Log);

        File.WriteAllText(corpus, File.ReadAllText(finished.Corpus).Replace("the cat", "the dog"));
        Assert.Equal(bytes, new FileInfo(corpus).Length);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "4"), $"the run's training file {corpus} has changed since the run started (the same size, other content)");

        File.Delete(corpus);
        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "4"), $"--resume {run}: the run's training file {corpus} no longer exists");
        AssertUnchanged(before, run);
    }

    [Fact]
    public void ACheckpointCopiedInFromAnotherRunIsRefusedByResumeAndEval()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        // Another run of the same options, vocabulary and corpus: only its identity tells its checkpoint apart.
        string other = Path.Combine(temp.Path, "other");
        var r = Elmo("train", "--train", finished.Corpus, "--options", finished.Options, "--min-count", "1", "--steps", "5", "--out", other);
        Assert.True(r.Code == 0, r.Error + r.Log);
        File.Copy(Checkpoint.PathIn(other), Checkpoint.PathIn(run), overwrite: true);
        string runId = RunSettings.ReadRunId(run)!, otherId = RunSettings.ReadRunId(other)!;
        Assert.NotEqual(runId, otherId);

        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "8"),
            $"Checkpoint '{Checkpoint.PathIn(run)}' belongs to another run (run id {otherId}; the run in {run} is {runId}): it was copied in from another folder",
            "Put this run's own checkpoint back");
        AssertOneLineError(Elmo("eval", "--model", run, "--test", finished.Corpus), $"'{Checkpoint.PathIn(run)}' belongs to another run");
        AssertUnchanged(before, run);
    }
}
