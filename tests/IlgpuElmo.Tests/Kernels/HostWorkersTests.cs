using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Kernels;

public class HostWorkersTests
{
    [Fact]
    public void EveryPartRunsExactlyOnceOverManyJobs()
    {
        var pool = new HostWorkers(3);
        Assert.Equal(3, pool.Threads);
        for (int job = 0; job < 500; job++)
        {
            int parts = 1 + job % 9;
            var runs = new int[parts];
            pool.Run(parts, p => Interlocked.Increment(ref runs[p]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void HelpersTakePartsAfterTheyFellAsleep()
    {
        var pool = new HostWorkers(2);
        for (int job = 0; job < 3; job++)
        {
            Thread.Sleep(20);
            // Each part waits for the other to start, so the job only finishes if the sleeping helper woke and took one.
            var started = new CountdownEvent(2);
            var ids = new int[2];
            pool.Run(2, p =>
            {
                ids[p] = Environment.CurrentManagedThreadId;
                started.Signal();
                Assert.True(started.Wait(TimeSpan.FromSeconds(10)), "the other part never started");
            });
            Assert.NotEqual(ids[0], ids[1]);
        }
    }

    [Fact]
    public void AFailingPartThrowsItsOwnExceptionAfterTheOthersFinish()
    {
        var pool = new HostWorkers(2);
        var runs = new int[4];
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(4, p =>
        {
            Interlocked.Increment(ref runs[p]);
            if (p == 2) throw new InvalidOperationException("part 2");
        }));
        Assert.Equal("part 2", e.Message);
        Assert.All(runs, r => Assert.Equal(1, r));
        int after = 0;
        pool.Run(3, _ => Interlocked.Increment(ref after));
        Assert.Equal(3, after);
    }

    [Fact]
    public void NestedAndConcurrentCallsRunTheirPartsThemselves()
    {
        var pool = new HostWorkers(2);
        var inner = new int[6 * 4];
        pool.Run(6, outer => pool.Run(4, p => Interlocked.Increment(ref inner[outer * 4 + p])));
        Assert.All(inner, r => Assert.Equal(1, r));

        var counts = new int[4][];
        Parallel.For(0, 4, caller =>
        {
            counts[caller] = new int[50];
            for (int job = 0; job < 50; job++) pool.Run(3, _ => Interlocked.Increment(ref counts[caller][job]));
        });
        Assert.All(counts, c => Assert.All(c, r => Assert.Equal(3, r)));
    }
}
