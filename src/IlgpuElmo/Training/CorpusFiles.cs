using IlgpuElmo.Data;

namespace IlgpuElmo.Training;

/// <summary>
/// Expands the corpus arguments users give (`--train 'data/*.txt'`): a file, a folder (all its files),
/// or a pattern with * and ? in the file name and ** for any depth of folders. Several patterns may be
/// joined with commas. Missing and empty corpora are errors naming the option and the pattern, and a
/// UTF-16 file is an error naming it, before any work starts. A folder or pattern leaves out the files of
/// run folders it reaches (an earlier run's checkpoints, metrics and lock are not text), with a note naming
/// them; a file named by itself is always taken.
/// </summary>
public static class CorpusFiles
{
    public static IReadOnlyList<string> Expand(string patterns, string option, TextWriter? log = null)
    {
        var result = new List<string>();
        foreach (string raw in patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (matches, named) = ExpandOne(raw);
            if (matches.Count == 0)
                throw new InputException($"{option} '{raw}': no file matches. Give a file, a folder, or a pattern such as 'corpus/*.txt'.");
            if (!named)
            {
                var runFiles = matches.Where(RunFolder.IsRunFile).ToList();
                string runFolders = string.Join(", ", runFiles.Select(Path.GetDirectoryName).Distinct());
                if (runFiles.Count == matches.Count)
                    throw new InputException(
                        $"{option} '{raw}': its only matches are the files of the run folder(s) {runFolders}, which are not text; give the corpus's files.");
                if (runFiles.Count > 0)
                {
                    log?.WriteLine($"note: {option} '{raw}': left out {runFiles.Count} file(s) of the run folder(s) {runFolders} " +
                        "(a run's checkpoints, metrics and lock are not text); name a file by itself to train on it.");
                    matches = matches.Except(runFiles).ToList();
                }
            }
            result.AddRange(matches);
        }
        if (result.Count == 0)
            throw new InputException($"{option}: no corpus given. Give a file, a folder, or a pattern such as 'corpus/*.txt'.");
        var distinct = result.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.All(f => new FileInfo(f).Length == 0))
            throw new InputException($"{option} '{patterns}': every matching file is empty ({distinct.Count} file(s)).");
        foreach (var file in distinct) TextLines.CheckEncoding(file);
        return distinct;
    }

    /// <summary>The files <paramref name="pattern"/> matches; <c>Named</c>: it names one file itself.</summary>
    static (List<string> Files, bool Named) ExpandOne(string pattern)
    {
        string path = Environment.ExpandEnvironmentVariables(pattern);
        if (path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        if (File.Exists(path)) return ([Path.GetFullPath(path)], true);
        if (Directory.Exists(path))
            return (Directory.GetFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.')).Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList(), false);
        int wild = path.IndexOfAny(['*', '?']);
        if (wild < 0) return ([], false);
        int cut = path.LastIndexOfAny(['/', '\\'], wild);
        string root = cut < 0 ? "." : path[..cut];
        if (root.Length == 0) root = "/";
        string rest = cut < 0 ? path : path[(cut + 1)..];
        if (!Directory.Exists(root)) return ([], false);
        bool recursive = rest.StartsWith("**", StringComparison.Ordinal);
        string filePattern = recursive ? rest.TrimStart('*').TrimStart('/', '\\') : rest;
        if (filePattern.Length == 0) filePattern = "*";
        if (filePattern.IndexOfAny(['/', '\\']) >= 0)
            throw new InputException($"Corpus pattern '{pattern}': wildcards are supported in the file name and as a leading '**/' only.");
        return (Directory.GetFiles(root, filePattern, recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList(), false);
    }
}
