using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

public class RunFolderTests
{
    [Fact]
    public void TheLockIsExclusiveNamesItsOwnerAndIsReleasedOnDispose()
    {
        using var temp = new TempDirectory();
        using (var first = RunFolderLock.Acquire(temp.Path))
        {
            Assert.Null(first.StaleOwner);
            Assert.Null(RunFolderLock.TryAcquire(temp.Path));
            var e = Assert.Throws<InputException>(() => RunFolderLock.Acquire(temp.Path));
            Assert.Contains($"{temp.Path} is in use by another run (process {Environment.ProcessId} on {Environment.MachineName}", e.Message);
            Assert.Throws<InputException>(() => RunFolderLock.ThrowIfHeld(temp.Path));
        }
        Assert.False(File.Exists(Path.Combine(temp.Path, RunFolderLock.OwnerFileName)));
        RunFolderLock.ThrowIfHeld(temp.Path);
        using var again = RunFolderLock.Acquire(temp.Path);
        Assert.Null(again.StaleOwner);
    }

    [Fact]
    public void AnOwnerNoteWithoutItsOsLockIsReportedAsStale()
    {
        using var temp = new TempDirectory();
        // What a killed owner leaves: its note, and no OS lock (the OS dropped it with the process).
        File.WriteAllText(Path.Combine(temp.Path, RunFolderLock.OwnerFileName),
            """{"ProcessId":424242,"Host":"gone","Started":"2026-11-25T10:00:00+00:00","CommandLine":"elmo train --out x"}""");
        using var taken = RunFolderLock.Acquire(temp.Path);
        Assert.Contains("process 424242 on gone", taken.StaleOwner);
        Assert.Contains($"process {Environment.ProcessId}", RunFolderLock.DescribeOwner(temp.Path));
    }

    [Fact]
    public void DefaultFolderNamesGetASuffixInsteadOfSharingAFolder()
    {
        using var temp = new TempDirectory();
        var now = new DateTime(2026, 11, 25, 14, 0, 0);
        var (first, firstLock) = RunFolder.ClaimDefault(temp.Path, now);
        var (second, secondLock) = RunFolder.ClaimDefault(temp.Path, now);
        Assert.Equal(Path.Combine(temp.Path, "20261125-140000"), first);
        Assert.Equal(first + "-2", second);
        firstLock.Dispose();
        secondLock.Dispose();
        // Released, but existing: a third run in the same second still gets a folder of its own.
        var (third, thirdLock) = RunFolder.ClaimDefault(temp.Path, now);
        Assert.Equal(first + "-3", third);
        thirdLock.Dispose();
    }

    [Fact]
    public void ANewRunIsRefusedAFolderWithARunAFileOrAHeldFolder()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        using (RunFolder.ClaimForNewRun(run, overwrite: false))
        {
            Assert.Contains("in use by another run", Assert.Throws<InputException>(() => RunFolder.CheckNewRunTarget(run, overwrite: true)).Message);
            File.WriteAllText(Path.Combine(run, "run.json"), "{}");
        }
        var e = Assert.Throws<InputException>(() => RunFolder.ClaimForNewRun(run, overwrite: false));
        Assert.Contains("already holds a run (run.json)", e.Message);
        Assert.Contains("--overwrite", e.Message);
        string leftover = Path.Combine(run, ".checkpoint.pending.bin.1234.0123456789abcdef.tmp"), users = Path.Combine(run, ".notes.tmp");
        File.WriteAllText(leftover, "a checkpoint write cut off by kill -9");
        File.WriteAllText(users, "not ours");
        using (RunFolder.ClaimForNewRun(run, overwrite: true))
        {
            Assert.False(File.Exists(Path.Combine(run, "run.json")));
            Assert.False(File.Exists(leftover));
            Assert.True(File.Exists(users));
        }
        string file = temp.File("afile", "x");
        Assert.Contains("is a file", Assert.Throws<InputException>(() => RunFolder.CheckNewRunTarget(file, overwrite: true)).Message);
    }
}
