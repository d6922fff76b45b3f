using System.Diagnostics;
using IlgpuElmo.Data;
using IlgpuElmo.Training;
using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

public class CheckpointTests
{
    static TrainerPosition At(long step, string? runId = null) =>
        new(step, 0, 0, "options", "vocabulary", 1, new BatcherState(0, 0, 0, false, false, [], []), RunId: runId);

    [Fact]
    public void AReaderNeverFailsWhileARunRewritesItsCheckpoints()
    {
        // `elmo eval --model DIR` while DIR trains: every save renames checkpoint.bin away and the new one in.
        using var temp = new TempDirectory();
        (string, int[], float[])[] tensors = [("w", [256], Enumerable.Range(0, 256).Select(i => (float)i).ToArray())];
        Checkpoint.Save(temp.Path, At(0), tensors);
        using var stop = new CancellationTokenSource();
        long saves = 0;
        var writer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) Checkpoint.Save(temp.Path, At(Interlocked.Increment(ref saves)), tensors);
        });
        long reads = 0, last = 0;
        var watch = Stopwatch.StartNew();
        try
        {
            // Saves flush to disk, so their pace is the disk's: read until there were enough of them.
            while ((Interlocked.Read(ref saves) < 300 || reads < 300) && watch.Elapsed < TimeSpan.FromMinutes(1))
            {
                var (position, read) = Checkpoint.Load(temp.Path);
                Assert.True(position.Step >= last, $"step {position.Step} after {last}");
                Assert.Equal(tensors[0].Item3, read["w"].Data);
                last = position.Step;
                reads++;
            }
        }
        finally
        {
            stop.Cancel();
            writer.Wait();
        }
        Assert.True(saves >= 300 && reads >= 300, $"{saves} saves, {reads} reads in {watch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void ACheckpointOfAnotherRunIsRefusedNamingBoth()
    {
        Checkpoint.CheckOwner("run/checkpoint.bin", At(3, "AAAA"), "AAAA");
        Checkpoint.CheckOwner("run/checkpoint.bin", At(3, "BBBB"), null);
        var e = Assert.Throws<InputException>(() => Checkpoint.CheckOwner("run/checkpoint.bin", At(3, "BBBB"), "AAAA"));
        Assert.Equal("Checkpoint 'run/checkpoint.bin' belongs to another run (run id BBBB; the run in run is AAAA): it was copied in from another folder. " +
            "Put this run's own checkpoint back; to train those weights further, start a new run from their folder with --init.", e.Message);
        Assert.Contains("(run id none;", Assert.Throws<InputException>(() => Checkpoint.CheckOwner("run/checkpoint.bin", At(3), "AAAA")).Message);
    }
}
