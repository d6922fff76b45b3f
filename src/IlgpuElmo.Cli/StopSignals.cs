using System.Runtime.InteropServices;

namespace IlgpuElmo.Cli;

/// <summary>
/// Turns the first SIGINT (Ctrl-C), SIGTERM (a scheduler, `timeout`, `docker stop`) or SIGHUP (a closed
/// terminal) into a cancellation, so training saves a checkpoint and stops; <see cref="ExitCode"/> is
/// then the shell's convention, 128 + the signal's number. A second signal is left to its default
/// action (the process ends at once), for a user who will not wait for the checkpoint.
/// </summary>
sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource source;
    readonly List<PosixSignalRegistration> registrations = new();
    readonly object gate = new();
    int received;
    bool disposed;

    public StopSignals(CancellationToken outer)
    {
        source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        foreach (var (signal, number) in new[] { (PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1) })
            registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                lock (gate)
                {
                    if (Interlocked.CompareExchange(ref received, number, 0) != 0) return;
                    context.Cancel = true;
                    // A handler already dispatched when training ended (a data-parallel rank whose stop the
                    // other ranks agreed first) only records the signal: the run is stopping anyway.
                    if (!disposed) source.Cancel();
                }
            }));
    }

    public CancellationToken Token => source.Token;

    /// <summary>130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP (and 130 when cancelled otherwise).</summary>
    public int ExitCode => 128 + (received == 0 ? 2 : received);

    public void Dispose()
    {
        lock (gate) disposed = true;
        foreach (var r in registrations) r.Dispose();
        source.Dispose();
    }
}
