using IlgpuElmo.Model;

namespace IlgpuElmo.Training;

/// <summary>
/// The rule for every output a command writes, checked before the command does any work: an output is
/// never one of the command's inputs, never a file of a run folder (only `elmo train` writes those) or
/// of an export (only `elmo export --overwrite` replaces those), and an existing file is replaced only
/// when the command was told to (its --overwrite). Paths are compared after full resolution (relative
/// parts and symbolic links), so `./s.txt`, `s.txt` and a link to it are one file. A refusal is an
/// <see cref="InputException"/> naming the option, the path and what to do instead.
/// </summary>
public static class OutputPaths
{
    /// <summary>An input of a command: the option that gave it (or what it is) and its path.</summary>
    public readonly record struct Input(string Option, string Path);

    /// <summary>
    /// Checks the output file <paramref name="path"/> (given as <paramref name="option"/>): not a folder,
    /// in an existing folder where a file can be created, none of <paramref name="inputs"/>, no file of
    /// a run or an export, and not existing unless <paramref name="overwrite"/>.
    /// </summary>
    public static void CheckFile(string path, string option, string exampleName, bool overwrite, IEnumerable<Input> inputs)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new InputException($"{option} {path} is a folder; give the file to write, e.g. {Path.Combine(path, exampleName)}.");
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new InputException($"{option} {path}: the folder {folder} does not exist; create it first or give another path.");
        string resolved = Resolve(full);
        foreach (var input in inputs)
            if (Same(resolved, Resolve(input.Path)))
                throw new InputException($"{option} {path} is also an input of this command ({input.Option} {input.Path}); give another path for the output.");
        string owner = Path.GetDirectoryName(resolved)!, name = Path.GetFileName(resolved);
        if (HoldsExport(owner) && PublishedExport.Files.Contains(name))
            throw new InputException($"{option} {path} is a file of the export in {owner}; give another path (`elmo export --overwrite` replaces a whole export).");
        if (RunFolder.IsRunFile(resolved))
            throw new InputException($"{option} {path} is a file of the run in {owner}, which only `elmo train` writes; give another name or folder.");
        if (File.Exists(resolved) && !overwrite)
            throw new InputException($"{option} {path} exists; give --overwrite to replace it, or another path.");
        string probe = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"{option} {path}: cannot create a file in {folder} ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Checks the folder an export is written into: new, empty, or holding a previous export (replaced only
    /// with <paramref name="overwrite"/>); never a run folder, a file, or a folder holding one of <paramref name="inputs"/>.
    /// </summary>
    public static void CheckExportFolder(string folder, string option, bool overwrite, IEnumerable<Input> inputs)
    {
        string resolved = Resolve(folder);
        if (File.Exists(resolved))
            throw new InputException($"{option} {folder} is a file; give a folder for the export (it is created if missing).");
        foreach (var input in inputs)
        {
            string other = Resolve(input.Path);
            if (Same(resolved, other) || Inside(resolved, other))
                throw new InputException($"{option} {folder} holds an input of this export ({input.Option} {input.Path}); export into a new or empty folder.");
        }
        if (!Directory.Exists(resolved)) return;
        var entries = Directory.GetFileSystemEntries(resolved).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        if (HoldsExport(resolved))
        {
            if (!overwrite)
                throw new InputException($"{option} {folder} holds an export ({string.Join(", ", entries)}); replace it with --overwrite, or give a new or empty folder.");
            return;
        }
        if (RunFolder.HoldsRun(resolved))
            throw new InputException($"{option} {folder} holds a run of `elmo train` ({string.Join(", ", entries)}); an export goes into a new or empty folder.");
        if (entries.Count > 0)
            throw new InputException($"{option} {folder} is not empty ({string.Join(", ", entries.Take(5))}{(entries.Count > 5 ? ", ..." : "")}); an export goes into a new or empty folder.");
    }

    /// <summary>
    /// Whether <paramref name="folder"/> holds an export: its complete options beside its weights, and none
    /// of the files only a run of `elmo train` has (run.json, metrics, checkpoints).
    /// </summary>
    static bool HoldsExport(string folder) =>
        File.Exists(Path.Combine(folder, PublishedExport.FullOptionsFile)) && File.Exists(Path.Combine(folder, PublishedExport.WeightsFile))
        && !RunFolder.RunFiles.Except(PublishedExport.Files).Any(name => File.Exists(Path.Combine(folder, name)));

    /// <summary>The absolute path with every symbolic link along it resolved (as far as the path exists).</summary>
    public static string Resolve(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string? parent = Path.GetDirectoryName(full);
        if (parent is null) return full;
        string joined = Path.Combine(Resolve(parent), Path.GetFileName(full));
        try
        {
            var target = new FileInfo(joined).ResolveLinkTarget(returnFinalTarget: true);
            return target is null ? joined : Resolve(target.FullName);
        }
        catch (IOException)
        {
            // A cycle of links: the path stays as it is (writing it fails with the OS's message).
            return joined;
        }
    }

    static readonly StringComparison PathComparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;

    static bool Same(string a, string b) => string.Equals(a, b, PathComparison);

    static bool Inside(string folder, string path) => path.StartsWith(folder + Path.DirectorySeparatorChar, PathComparison);
}
