namespace IlgpuElmo.Data;

/// <summary>
/// Expands the corpus arguments users give (`--train 'data/*.txt'`): a file, a folder (all its files),
/// or a pattern with * and ? in the file name and ** for any depth of folders. Several patterns may be
/// joined with commas. Missing and empty corpora are errors naming the option and the pattern, and a
/// UTF-16 file is an error naming it, before any work starts.
/// </summary>
public static class CorpusFiles
{
    public static IReadOnlyList<string> Expand(string patterns, string option)
    {
        var result = new List<string>();
        foreach (string raw in patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var matches = ExpandOne(raw);
            if (matches.Count == 0)
                throw new InputException($"{option} '{raw}': no file matches. Give a file, a folder, or a pattern such as 'corpus/*.txt'.");
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

    static List<string> ExpandOne(string pattern)
    {
        string path = Environment.ExpandEnvironmentVariables(pattern);
        if (path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        if (File.Exists(path)) return [Path.GetFullPath(path)];
        if (Directory.Exists(path))
            return Directory.GetFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        int wild = path.IndexOfAny(['*', '?']);
        if (wild < 0) return [];
        int cut = path.LastIndexOfAny(['/', '\\'], wild);
        string root = cut < 0 ? "." : path[..cut];
        if (root.Length == 0) root = "/";
        string rest = cut < 0 ? path : path[(cut + 1)..];
        if (!Directory.Exists(root)) return [];
        bool recursive = rest.StartsWith("**", StringComparison.Ordinal);
        string filePattern = recursive ? rest.TrimStart('*').TrimStart('/', '\\') : rest;
        if (filePattern.Length == 0) filePattern = "*";
        if (filePattern.IndexOfAny(['/', '\\']) >= 0)
            throw new InputException($"Corpus pattern '{pattern}': wildcards are supported in the file name and as a leading '**/' only.");
        return Directory.GetFiles(root, filePattern, recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList();
    }
}
