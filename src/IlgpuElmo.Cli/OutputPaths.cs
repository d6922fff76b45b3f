namespace IlgpuElmo.Cli;

/// <summary>Checks, before a command does its work, that its output file can be written.</summary>
static class OutputPaths
{
    /// <summary>
    /// <paramref name="path"/> must not be a folder, its folder must exist, and a file must be creatable
    /// there; otherwise an <see cref="InputException"/> names the option and the path.
    /// </summary>
    public static void CheckFile(string path, string option, string exampleName)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new InputException($"{option} {path} is a folder; give the file to write, e.g. {Path.Combine(path, exampleName)}.");
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new InputException($"{option} {path}: the folder {folder} does not exist; create it first or give another path.");
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
}
