using System.Diagnostics;
using IlgpuElmo.Training;
using IlgpuElmo.Model;

namespace IlgpuElmo.MultiRankTests;

/// <summary>
/// `mpiexec.mpich -n 2 elmo train --distributed` against one rank at the same global batch, on tiny shapes:
/// the same model, the same checkpoints on resume, a clean stop when a rank dies.
/// </summary>
public class DataParallelTrainingTests
{
    /// <summary>
    /// Two ranks sum two halves of each gradient where one rank sums all of it: float summation order differs,
    /// so parameters, optimizer state and carried states agree to this relative tolerance, not bit for bit
    /// (measured after 8 steps: 3.8e-8 for the character model, 5.9e-8 for the word model).
    /// </summary>
    const double SameModelTolerance = 1e-6;

    static string[] Train(string corpus, string options, string run, int steps, params string[] more) =>
        ["train", "--train", corpus, "--options", options, "--min-count", "1", "--steps", steps.ToString(), "--checkpoint-every", "3", "--out", run, .. more];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TwoRanksTrainTheModelOneRankTrains(bool characters)
    {
        // Characters: dense gradients only (char CNN, adaptive softmax). Words with a sampled softmax: the
        // embedding and softmax rows are row-sparse, combined over the union of the ranks' touched rows.
        using var temp = new TempDirectory();
        string corpus = TinyRun.Corpus(temp), options = TinyRun.Options(temp, characters);
        string one = Path.Combine(temp.Path, "one"), two = Path.Combine(temp.Path, "two");
        var (code, output) = MpiJob.Run(0, Train(corpus, options, one, 8));
        Assert.True(code == 0, output);
        (code, output) = MpiJob.Run(2, Train(corpus, options, two, 8, "--distributed"));
        Assert.True(code == 0, output);
        Assert.Contains("data-parallel: 2 ranks over MPI", output);

        var single = TinyRun.Checkpoint(one);
        var pair = TinyRun.Checkpoint(two);
        Assert.Contains(single.Keys, k => k.StartsWith("state/"));
        double difference = TinyRun.LargestDifference(pair, single);
        Assert.True(difference <= SameModelTolerance, $"largest relative difference {difference}");
        // The runs moved the weights: equal because both trained alike, not because neither trained.
        Assert.Contains(single, t => t.Key.StartsWith("optimizer/") && t.Value.Data.Any(v => v != 1f));
        Assert.Equal(File.ReadAllLines(Path.Combine(one, "metrics.jsonl")).Length, File.ReadAllLines(Path.Combine(two, "metrics.jsonl")).Length);
    }

    [Fact]
    public void ATwoRankRunResumedIsBitExactAndOtherRankCountsAreRefused()
    {
        using var temp = new TempDirectory();
        string corpus = TinyRun.Corpus(temp), options = TinyRun.Options(temp, characters: true);
        string straight = Path.Combine(temp.Path, "straight"), resumed = Path.Combine(temp.Path, "resumed");
        var (code, output) = MpiJob.Run(2, Train(corpus, options, straight, 6, "--distributed"));
        Assert.True(code == 0, output);
        (code, output) = MpiJob.Run(2, Train(corpus, options, resumed, 3, "--distributed"));
        Assert.True(code == 0, output);

        (code, output) = MpiJob.Run(0, "train", "--resume", resumed, "--steps", "6");
        Assert.Equal(2, code);
        Assert.Contains("written by a run of 2 rank(s) and this one has 1", output);
        Assert.Contains("mpiexec.mpich -n 2", output);

        (code, output) = MpiJob.Run(2, "train", "--distributed", "--resume", resumed, "--steps", "6");
        Assert.True(code == 0, output);
        var a = TinyRun.Checkpoint(straight);
        var b = TinyRun.Checkpoint(resumed);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, tensor) in a) Assert.True(tensor.Data.SequenceEqual(b[name].Data), $"{name} differs");
    }

    [Fact]
    public void AKilledRankEndsTheJobWithAnErrorAndTheLastCheckpointIntact()
    {
        using var temp = new TempDirectory();
        string corpus = TinyRun.Corpus(temp), options = TinyRun.Options(temp, characters: true);
        string run = Path.Combine(temp.Path, "run");
        using var job = new MpiJob(2, Train(corpus, options, run, 100000, "--distributed"));
        var watch = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(run, "checkpoint.previous.bin")))
        {
            Assert.False(job.HasExited, $"the job ended before its second checkpoint: {job.Output}");
            Assert.True(watch.Elapsed < TimeSpan.FromMinutes(2), $"no second checkpoint after two minutes: {job.Output}");
            Thread.Sleep(50);
        }
        var rank1 = RankProcess(run, 1);
        rank1.Kill();
        watch.Restart();
        int code = job.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, code);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the job took {watch.Elapsed} to end after the kill");
        Assert.Contains("BAD TERMINATION", job.Output);
        Assert.Throws<InvalidOperationException>(() => RankProcess(run, 0));

        var (position, tensors) = Checkpoint.Load(run);
        Assert.Equal(2, position.Ranks);
        Assert.True(position.Step >= 3 && position.Step % 3 == 0, $"checkpoint at step {position.Step}");
        Assert.NotEmpty(tensors);
    }

    [Fact]
    public void AnErrorOnRankZeroAloneEndsTheJobWithThatError()
    {
        // Rank 0's next checkpoint write fails (a folder where its pending file goes) while rank 1 trains on:
        // without MPI_Abort rank 1 would wait in its next all-reduce for ever (measured before the fix: a hang).
        using var temp = new TempDirectory();
        string corpus = TinyRun.Corpus(temp), options = TinyRun.Options(temp, characters: true);
        string run = Path.Combine(temp.Path, "run");
        using var job = new MpiJob(2, Train(corpus, options, run, 100000, "--distributed"));
        WaitForFirstCheckpoint(job, run);
        Directory.CreateDirectory(Path.Combine(run, Checkpoint.PendingFileName));
        Assert.Equal(2, job.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains($"error: Is a directory : '{Path.Combine(run, Checkpoint.PendingFileName)}'", job.Output);
        Assert.True(Checkpoint.Load(run).Position.Step % 3 == 0);
    }

    [Fact]
    public void SigtermStopsEveryRankAtOneStepWithACheckpoint()
    {
        using var temp = new TempDirectory();
        string corpus = TinyRun.Corpus(temp), options = TinyRun.Options(temp, characters: true);
        string run = Path.Combine(temp.Path, "run");
        using var job = new MpiJob(2, Train(corpus, options, run, 100000, "--distributed"));
        WaitForFirstCheckpoint(job, run);
        job.Signal(15);
        int code = job.WaitForExit(TimeSpan.FromSeconds(60));
        // Each rank exits 143, or 130 when the other rank's stop was agreed before its own handler ran (the
        // handler then only records the signal); Hydra's own exit code after forwarding the signal was 143 in
        // some runs and 0 in others (measured), so the test holds the ranks' behaviour: one agreed step, one
        // checkpoint, and no rank crashing on the late signal.
        Assert.True(code is 143 or 130 or 0, $"exit code {code}; output: {job.Output}");
        Assert.DoesNotContain("Unhandled exception", job.Output);
        Assert.Contains("interrupted: checkpoint saved at step", job.Output);
        var (position, _) = Checkpoint.Load(run);
        Assert.Equal(2, position.Ranks);
        Assert.Contains($"interrupted: checkpoint saved at step {position.Step};", job.Output);
    }

    [Fact]
    public void NcclOnTheCpuIsAnErrorNamingWhatIsMissing()
    {
        // Without NCCL the error names the library; with it (a GPU machine), the CPU device this asks for.
        bool installed = System.Runtime.InteropServices.NativeLibrary.TryLoad("libnccl.so.2", out _);
        using var temp = new TempDirectory();
        var (code, output) = MpiJob.Run(2, Train(TinyRun.Corpus(temp), TinyRun.Options(temp, characters: true), Path.Combine(temp.Path, "run"), 3,
            "--distributed", "--all-reduce", "nccl", "--device", "cpu"));
        Assert.Equal(2, code);
        Assert.Contains(installed ? "--all-reduce nccl needs a CUDA device" : "NCCL ('libnccl.so.2') could not be loaded", output);
    }

    /// <summary>Waits (at most two minutes) until the running job has written its first checkpoint.</summary>
    static void WaitForFirstCheckpoint(MpiJob job, string run)
    {
        var watch = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(run, "checkpoint.bin")))
        {
            Assert.False(job.HasExited, $"the job ended before its first checkpoint: {job.Output}");
            Assert.True(watch.Elapsed < TimeSpan.FromMinutes(2), $"no checkpoint after two minutes: {job.Output}");
            Thread.Sleep(50);
        }
    }

    /// <summary>The live elmo process of rank <paramref name="rank"/> of the job training into <paramref name="run"/>.</summary>
    static Process RankProcess(string run, int rank)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!commandLine.Contains("elmo.dll") || !commandLine.Contains(run)) continue;
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains($"PMI_RANK={rank}"))
                    return Process.GetProcessById(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { }
        }
        throw new InvalidOperationException($"no live rank {rank} training into {run}");
    }
}
