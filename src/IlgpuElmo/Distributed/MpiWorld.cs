using System.Text;
using static MPI.Unsafe;

namespace IlgpuElmo.Distributed;

/// <summary>
/// MPI_COMM_WORLD through MPI.NET's raw bindings (<c>MPI.Unsafe</c>): in-place sums, all-gathers and
/// broadcasts over spans, without MPI.NET's object serialisation. One per process: <see cref="Start"/>
/// initialises MPI, <see cref="Dispose"/> finalises it. Every call is a collective: all ranks make the same
/// calls in the same order. MPICH's default error handler aborts the job on a communication failure, and its
/// launcher ends every rank when one dies.
/// </summary>
public sealed unsafe class MpiWorld : IDisposable
{
    bool finalized;

    MpiWorld(int rank, int size, string library)
    {
        Rank = rank;
        Size = size;
        Library = library;
    }

    /// <summary>The MPI library loaded (<see cref="MpiLibrary.Choose"/>), for messages.</summary>
    public string Library { get; }

    public int Rank { get; }
    public int Size { get; }
    public bool IsRoot => Rank == 0;

    /// <summary>Checks the launch, loads the library (<see cref="MpiLibrary"/>) and initialises MPI.</summary>
    public static MpiWorld Start(string? library)
    {
        MpiLaunch.Check(Environment.GetEnvironmentVariables());
        MpiLibrary.Load(library);
        int argc = 0;
        byte** argv = null;
        Check(MPI_Init(ref argc, ref argv), "MPI_Init");
        Check(MPI_Comm_rank(MPI_COMM_WORLD, out int rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(MPI_COMM_WORLD, out int size), "MPI_Comm_size");
        return new MpiWorld(rank, size, MpiLibrary.Choose(library));
    }

    /// <summary>data = the sum of every rank's data, element by element (the same bits on every rank).</summary>
    public void SumInPlace(Span<float> data)
    {
        fixed (float* p = data) Check(MPI_Allreduce(InPlace, (IntPtr)p, data.Length, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }

    public void SumInPlace(Span<double> data)
    {
        fixed (double* p = data) Check(MPI_Allreduce(InPlace, (IntPtr)p, data.Length, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }

    public void SumInPlace(Span<int> data)
    {
        fixed (int* p = data) Check(MPI_Allreduce(InPlace, (IntPtr)p, data.Length, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }

    /// <summary>all [Size * mine.Length] = every rank's <paramref name="mine"/>, in rank order.</summary>
    public void GatherAll(ReadOnlySpan<int> mine, Span<int> all)
    {
        CheckGather(mine.Length, all.Length);
        fixed (int* m = mine) fixed (int* a = all)
            Check(MPI_Allgather((IntPtr)m, mine.Length, MPI_INT, (IntPtr)a, mine.Length, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    }

    public void GatherAll(ReadOnlySpan<float> mine, Span<float> all)
    {
        CheckGather(mine.Length, all.Length);
        fixed (float* m = mine) fixed (float* a = all)
            Check(MPI_Allgather((IntPtr)m, mine.Length, MPI_FLOAT, (IntPtr)a, mine.Length, MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgather");
    }

    /// <summary>Every rank's data becomes rank 0's.</summary>
    public void Broadcast(Span<float> data)
    {
        fixed (float* p = data) Check(MPI_Bcast((IntPtr)p, data.Length, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }

    public void Broadcast(Span<byte> data)
    {
        fixed (byte* p = data) Check(MPI_Bcast((IntPtr)p, data.Length, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }

    /// <summary>Rank 0's text on every rank (<paramref name="text"/> is read on rank 0 only).</summary>
    public string Broadcast(string? text)
    {
        var bytes = IsRoot ? Encoding.UTF8.GetBytes(text ?? "") : [];
        Span<int> length = [bytes.Length];
        fixed (int* p = length) Check(MPI_Bcast((IntPtr)p, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
        if (!IsRoot) bytes = new byte[length[0]];
        Broadcast(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>True on every rank when every rank passed true: lets ranks stop together when one of them failed.</summary>
    public bool AllSucceeded(bool mine)
    {
        Span<int> failures = [mine ? 0 : 1];
        SumInPlace(failures);
        return failures[0] == 0;
    }

    /// <summary>
    /// Prints <paramref name="message"/> and ends every rank of the job (MPI_Abort, exit code 2): for a failure on
    /// some ranks only, where the others would wait in their next collective for ever.
    /// </summary>
    public void Abort(string message)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        // The launcher forwards a rank's output through a pipe and stops reading it once the abort kills the job:
        // without a pause the line was often lost (the two tests that check it failed intermittently).
        Thread.Sleep(AbortGrace);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(1);

    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        MPI_Finalize();
    }

    void CheckGather(int mine, int all)
    {
        if (all != mine * Size) throw new ArgumentException($"All-gather: {all} elements for {Size} ranks of {mine}.");
    }

    /// <summary>MPI_IN_PLACE: (void*)-1 in MPICH and MS-MPI alike.</summary>
    static IntPtr InPlace => new(-1);

    static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }
}
