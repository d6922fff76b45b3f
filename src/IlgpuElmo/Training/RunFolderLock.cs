using System.Text.Json;
using IlgpuElmo.Data;

namespace IlgpuElmo.Training;

/// <summary>
/// One run at a time in a run folder. The lock is an exclusive OS lock on DIR/.lock (flock on Linux and
/// macOS, a share-none handle on Windows), held for the whole run: the OS drops it when the process
/// ends, however it ends, so a lock can never outlive its process. Beside it, DIR/run.lock names the
/// owner (process id, host, start time, command line) for the message a second run prints; it is
/// deleted on a clean release, so finding it with the OS lock free means the owner died (kill -9, a
/// crash, power loss): reported as a stale lock and taken over.
/// </summary>
/// <remarks>
/// The OS lock and the owner note are two files because a flock-held file cannot be opened by another
/// .NET process even for reading. On network file systems flock may not reach other hosts.
/// </remarks>
public sealed class RunFolderLock : IDisposable
{
    public const string LockFileName = ".lock", OwnerFileName = "run.lock";

    readonly FileStream handle;
    readonly string ownerPath;

    RunFolderLock(FileStream handle, string ownerPath, string? staleOwner)
    {
        this.handle = handle;
        this.ownerPath = ownerPath;
        StaleOwner = staleOwner;
    }

    /// <summary>The dead owner a stale lock named (null when the folder was free): for a warning.</summary>
    public string? StaleOwner { get; }

    /// <summary>
    /// Locks <paramref name="folder"/> (which must exist) or throws an <see cref="InputException"/>
    /// naming the process that holds it.
    /// </summary>
    public static RunFolderLock Acquire(string folder) => TryAcquire(folder) ?? throw InUse(folder);

    /// <summary>Throws like <see cref="Acquire"/> when another process holds <paramref name="folder"/>; takes nothing.</summary>
    public static void ThrowIfHeld(string folder)
    {
        string lockPath = Path.Combine(folder, LockFileName);
        if (!File.Exists(lockPath)) return;
        try
        {
            using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            throw InUse(folder);
        }
    }

    static InputException InUse(string folder) => new(
        $"{folder} is in use by another run ({DescribeOwner(folder) ?? "its owner note is not written yet"}); " +
        "wait for it to finish, stop it, or give another folder.");

    /// <summary>Locks <paramref name="folder"/>, or returns null when another process holds it.</summary>
    public static RunFolderLock? TryAcquire(string folder)
    {
        string lockPath = Path.Combine(folder, LockFileName), ownerPath = Path.Combine(folder, OwnerFileName);
        FileStream handle;
        try
        {
            handle = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            return null;
        }
        try
        {
            string? stale = File.Exists(ownerPath) ? DescribeOwner(folder) ?? "an unreadable owner note" : null;
            var owner = new Owner(Environment.ProcessId, Environment.MachineName, DateTimeOffset.Now, Environment.CommandLine);
            AtomicFile.WriteAllText(ownerPath, JsonSerializer.Serialize(owner));
            return new RunFolderLock(handle, ownerPath, stale);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>"process 1234 on host, started 2026-11-25 14:00:00 +00:00: elmo train ...", or null when no note is there.</summary>
    public static string? DescribeOwner(string folder)
    {
        try
        {
            var o = JsonSerializer.Deserialize<Owner>(File.ReadAllText(Path.Combine(folder, OwnerFileName)));
            return o is null ? null : $"process {o.ProcessId} on {o.Host}, started {o.Started:yyyy-MM-dd HH:mm:ss zzz}: {o.CommandLine}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Deletes the owner note, then lets the OS lock go.</summary>
    public void Dispose()
    {
        try { File.Delete(ownerPath); } catch (IOException) { }
        handle.Dispose();
    }

    sealed record Owner(int ProcessId, string Host, DateTimeOffset Started, string CommandLine);
}
