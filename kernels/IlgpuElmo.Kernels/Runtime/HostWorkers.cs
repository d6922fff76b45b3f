using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The host execution's threads: a fixed pool of one helper per core beside the calling thread, for the
/// hundreds of short parallel loops a training step launches (a <see cref="Parallel.For(int, int, Action{int})"/>
/// per launch paid a hand-off and thread-pool scheduling every time).
/// </summary>
/// <remarks>
/// <see cref="Run"/> splits a job into parts the caller numbers; the caller and the helpers claim parts
/// one at a time until none is left, then the caller waits for the last to finish. Which thread runs a
/// part varies, but what a part computes is fixed by its number, so results are the same bit for bit
/// whoever runs it. Helpers spin for <see cref="SpinMicroseconds"/> after a job (the next launch usually
/// follows within that) and then sleep until woken. One job runs at a time: a call made while the pool is
/// busy (from a part, or from another thread) runs its parts itself, in order.
/// </remarks>
public sealed class HostWorkers
{
    /// <summary>How long an idle helper watches for the next job before it sleeps.</summary>
    const int SpinMicroseconds = 100;

    /// <summary>
    /// Parts per thread a launch is cut into where its work allows: on a shared machine the OS takes a thread
    /// away for milliseconds at a time, and the others then claim the rest of the parts instead of waiting for
    /// a whole half of the work (measured: with one part per thread a training step took 2-3x longer at load 5-9).
    /// </summary>
    public const int PartsPerThread = 4;

    static readonly Lazy<HostWorkers> shared = new(() => new HostWorkers(Environment.ProcessorCount));

    /// <summary>The pool this thread's launches use instead of the process's, while it runs one half of <see cref="RunHalves"/>.</summary>
    [ThreadStatic] static HostWorkers? scoped;

    /// <summary>
    /// The pool for this thread's launches: the process's (one thread per core, the caller counts as one), or,
    /// inside one half of <see cref="RunHalves"/>, that half's share of it.
    /// </summary>
    public static HostWorkers Shared => scoped ?? shared.Value;

    HostWorkers[]? halves;
    bool halvesMade;
    object? halvesLock;

    readonly Helper[] helpers;
    readonly long spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
    Job? current;
    int busy;

    /// <param name="threads">Threads that run a job's parts, the caller included.</param>
    public HostWorkers(int threads)
    {
        helpers = new Helper[Math.Max(0, threads - 1)];
        for (int i = 0; i < helpers.Length; i++)
        {
            var helper = helpers[i] = new Helper();
            new Thread(() => HelperLoop(helper)) { IsBackground = true, Name = $"elmo host worker {i + 1}" }.Start();
        }
    }

    /// <summary>Threads that run a job's parts, the caller included.</summary>
    public int Threads => helpers.Length + 1;

    /// <summary>Runs <paramref name="part"/>(0 .. parts-1), each once, on the caller and the helpers; returns when all are done.</summary>
    public void Run(int parts, Action<int> part)
    {
        if (parts <= 0) return;
        if (parts == 1 || helpers.Length == 0 || Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++) part(p);
            return;
        }
        var job = new Job(part, parts);
        try
        {
            Volatile.Write(ref current, job);
            Interlocked.MemoryBarrier();
            for (int i = 0; i < Math.Min(helpers.Length, parts - 1); i++) helpers[i].Wake();
            job.RunParts();
            job.WaitUntilDone();
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
        job.Error?.Throw();
    }

    /// <summary>
    /// Runs <paramref name="half"/>(0) and <paramref name="half"/>(1) at once, for two independent pieces of work
    /// made of many small launches (the biLM's two directions): each on its own thread, with half of this
    /// pool's threads as its <see cref="Shared"/> pool, so on two cores each runs its launches on one core
    /// with no hand-off at all. A launch's result never depends on how many threads run it, so the results are
    /// those of running the halves one after the other. With one thread, they do run one after the other.
    /// </summary>
    public void RunHalves(Action<int> half)
    {
        if (Threads < 2)
        {
            half(0);
            half(1);
            return;
        }
        var pools = LazyInitializer.EnsureInitialized(ref halves, ref halvesMade, ref halvesLock,
            () => [new HostWorkers(Threads / 2), new HostWorkers(Threads - Threads / 2)])!;
        Run(2, h =>
        {
            var outer = scoped;
            scoped = pools[h];
            try
            {
                half(h);
            }
            finally
            {
                scoped = outer;
            }
        });
    }

    void HelperLoop(Helper helper)
    {
        Job? seen = null;
        while (true)
        {
            seen = WaitForNext(helper, seen);
            seen.RunParts();
        }
    }

    /// <summary>Spins a while for a job other than <paramref name="seen"/>, then sleeps until <see cref="Run"/> wakes this helper.</summary>
    Job WaitForNext(Helper helper, Job? seen)
    {
        long start = Stopwatch.GetTimestamp();
        do
        {
            var job = Volatile.Read(ref current);
            if (job != seen) return job!;
            Thread.SpinWait(16);
        } while (Stopwatch.GetTimestamp() - start < spinTicks);
        while (true)
        {
            // Sleeping is announced before the last look, and Run publishes the job before it looks at the
            // flag, so one side always sees the other: exactly one of them takes the flag back.
            Volatile.Write(ref helper.Sleeping, 1);
            Interlocked.MemoryBarrier();
            var job = Volatile.Read(ref current);
            if (job != seen)
            {
                if (Interlocked.Exchange(ref helper.Sleeping, 0) == 0) helper.Signal.Wait();
                return job!;
            }
            helper.Signal.Wait();
        }
    }

    sealed class Helper
    {
        public readonly SemaphoreSlim Signal = new(0);
        public int Sleeping;

        public void Wake()
        {
            if (Volatile.Read(ref Sleeping) == 1 && Interlocked.Exchange(ref Sleeping, 0) == 1) Signal.Release();
        }
    }

    /// <summary>One call's parts: the next part to claim and how many are done.</summary>
    sealed class Job(Action<int> part, int parts)
    {
        int next, done;
        public ExceptionDispatchInfo? Error;

        public void RunParts()
        {
            for (int p; (p = Interlocked.Increment(ref next) - 1) < parts;)
            {
                try
                {
                    part(p);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, ExceptionDispatchInfo.Capture(e), null);
                }
                Interlocked.Increment(ref done);
            }
        }

        public void WaitUntilDone()
        {
            var spinner = new SpinWait();
            while (Volatile.Read(ref done) < parts) spinner.SpinOnce(sleep1Threshold: -1);
        }
    }
}
