using IlgpuElmo.Model;
namespace IlgpuElmo.Training;

/// <summary>
/// Who may write into a run folder: a new run only into a folder that holds no run (or, told to
/// overwrite, after the old run's files are removed), a resumed run only into its own; either way
/// under a <see cref="RunFolderLock"/> held for the whole run. Default folder names get a suffix
/// instead of sharing a folder with a run started in the same second.
/// </summary>
public static class RunFolder
{
    /// <summary>The files a run writes; a folder with run.json, options.json or a checkpoint holds a run.</summary>
    public static readonly string[] RunFiles =
    [
        "run.json", "options.json", "vocab.txt", "metrics.jsonl", "loss.png", "result.json",
        Checkpoint.FileName, Checkpoint.PreviousFileName, Checkpoint.PendingFileName, Checkpoint.DamagedFileName,
    ];

    public static bool HoldsRun(string folder) =>
        File.Exists(Path.Combine(folder, "run.json")) || File.Exists(Path.Combine(folder, "options.json")) || File.Exists(Checkpoint.PathIn(folder));

    /// <summary>
    /// Whether <paramref name="path"/> is a file of the run in its folder (one of <see cref="RunFiles"/> or
    /// the lock's files, in a folder that <see cref="HoldsRun"/>): only `elmo train` writes those.
    /// </summary>
    public static bool IsRunFile(string path)
    {
        string name = Path.GetFileName(path);
        return HoldsRun(Path.GetDirectoryName(Path.GetFullPath(path))!)
            && (RunFiles.Contains(name) || name is RunFolderLock.LockFileName or RunFolderLock.OwnerFileName);
    }

    /// <summary>
    /// Checks, before any work, that <paramref name="folder"/> may receive a new run: it is not a file,
    /// no other process holds it, and it holds no run unless <paramref name="overwrite"/>. Creates nothing.
    /// </summary>
    public static void CheckNewRunTarget(string folder, bool overwrite)
    {
        if (File.Exists(folder))
            throw new InputException($"--out {folder} is a file; give a folder for the run (it is created if missing).");
        if (Directory.Exists(folder)) RunFolderLock.ThrowIfHeld(folder);
        RefuseRun(folder, overwrite);
    }

    static void RefuseRun(string folder, bool overwrite)
    {
        if (Directory.Exists(folder) && HoldsRun(folder) && !overwrite)
            throw new InputException(
                $"--out {folder} already holds a run ({Describe(folder)}); continue it with --resume {folder}, " +
                "replace it with --overwrite, or give another --out.");
    }

    /// <summary>
    /// Creates (if needed) and locks <paramref name="folder"/> for a new run; with <paramref name="overwrite"/>
    /// removes the run that is there, otherwise refuses a folder that holds one.
    /// </summary>
    public static RunFolderLock ClaimForNewRun(string folder, bool overwrite)
    {
        CheckNewRunTarget(folder, overwrite);
        Directory.CreateDirectory(folder);
        var held = RunFolderLock.Acquire(folder);
        try
        {
            // Checked again under the lock: another run may have started here since the first check.
            RefuseRun(folder, overwrite);
            RemoveLeftovers(folder);
            if (overwrite)
                foreach (var name in RunFiles) File.Delete(Path.Combine(folder, name));
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Locks the folder of an earlier run for --resume.</summary>
    public static RunFolderLock ClaimForResume(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InputException($"--resume {folder}: no such folder; give the folder of an earlier `elmo train`.");
        var held = RunFolderLock.Acquire(folder);
        RemoveLeftovers(folder);
        return held;
    }

    /// <summary>
    /// The default run folder, parent/yyyyMMdd-HHmmss, created and locked; "-2", "-3", ... are appended
    /// when that name exists or another process claims it first.
    /// </summary>
    public static (string Folder, RunFolderLock Lock) ClaimDefault(string parent, DateTime now)
    {
        string stem = Path.Combine(parent, now.ToString("yyyyMMdd-HHmmss"));
        for (int suffix = 1; ; suffix++)
        {
            string folder = suffix == 1 ? stem : $"{stem}-{suffix}";
            if (Directory.Exists(folder) || File.Exists(folder)) continue;
            Directory.CreateDirectory(folder);
            // Two processes may both have created it: the lock decides, and the loser moves on.
            var held = RunFolderLock.TryAcquire(folder);
            if (held is null) continue;
            if (held.StaleOwner is null && !HoldsRun(folder)) return (folder, held);
            held.Dispose();
        }
    }

    /// <summary>
    /// Temporary files of a run's writes that a killed process never finished (their writer is gone: we
    /// hold the lock). Only our own files' temp names (.NAME.*.tmp), never anything else in the folder.
    /// </summary>
    static void RemoveLeftovers(string folder)
    {
        foreach (var name in RunFiles.Append(RunFolderLock.OwnerFileName))
            foreach (var temp in Directory.GetFiles(folder, $".{name}.*.tmp")) File.Delete(temp);
    }

    static string Describe(string folder)
    {
        var files = RunFiles.Where(f => File.Exists(Path.Combine(folder, f))).ToList();
        return string.Join(", ", files);
    }
}
