using System.Text.RegularExpressions;

namespace IlgpuElmo.Tests.Architecture;

/// <summary>
/// The library's folders depend one way (docs/architecture.md): a folder of src/IlgpuElmo may use the folders
/// of earlier levels of <see cref="Levels"/>, never one of its own level or a later one, so there is no cycle.
/// Dependencies are read from the source: <c>using IlgpuElmo.X;</c> directives, and names qualified by a
/// folder's namespace (<c>X.Type</c> or <c>IlgpuElmo.X.Type</c>, Type declared in folder X) outside comments. Files at the library's root (<c>InputException</c>, <c>NativeLibraryResolver</c>) are
/// usable from every folder and use none.
/// </summary>
public partial class FolderDependenciesTests
{
    /// <summary>The one statement of the allowed direction, lowest level first.</summary>
    public static readonly string[][] Levels =
    [
        ["Data"],
        ["Formats", "Reporting"],
        ["Tensors"],
        ["Linalg"],
        ["Devices"],
        ["Layers"],
        ["Encoders", "Softmax"],
        ["Model"],
        ["Distributed"],
        ["Training"],
        ["Probing", "Checks"],
    ];

    static string Library => Path.Combine(Repository.Root, "src", "IlgpuElmo");

    [Fact]
    public void EveryFolderHasALevel()
    {
        var folders = Directory.GetDirectories(Library).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).Order();
        Assert.Equal(Levels.SelectMany(level => level).Order(), folders);
    }

    [Fact]
    public void NoFolderUsesItsOwnLevelOrALaterOne()
    {
        var level = Levels.SelectMany((folders, i) => folders.Select(f => (f, i))).ToDictionary(x => x.f, x => x.i);
        var wrong = Dependencies().Where(d => level[d.To] >= level[d.From])
            .Select(d => $"{d.From} -> {d.To}: {d.File} ({d.How})").ToArray();
        Assert.True(wrong.Length == 0, "dependencies against the order of Levels:\n" + string.Join("\n", wrong));
    }

    /// <summary>The scan sees both kinds of reference (else the test above would pass on nothing).</summary>
    [Fact]
    public void TheScanFindsUsingsAndQualifiedNames()
    {
        var found = Dependencies().ToList();
        Assert.Contains(found, d => d.From == "Training" && d.To == "Model" && d.How == "using");
        Assert.Contains(found, d => d.From == "Model" && d.To == "Formats" && d.How.StartsWith("Formats.", StringComparison.Ordinal));
    }

    /// <summary>Every reference from one folder of the library to another: (from, to, file, how).</summary>
    static IEnumerable<(string From, string To, string File, string How)> Dependencies()
    {
        var files = Directory.GetFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Select(path => (Folder: Path.GetRelativePath(Library, path).Split(Path.DirectorySeparatorChar) is { Length: > 1 } parts ? parts[0] : "",
                Name: Path.GetRelativePath(Library, path), Text: File.ReadAllText(path)))
            .Where(f => f.Folder is not ("" or "bin" or "obj"))
            .ToList();
        var types = files.GroupBy(f => f.Folder).ToDictionary(g => g.Key,
            g => g.SelectMany(f => TypeDeclaration().Matches(f.Text).Select(m => m.Groups[1].Value)).ToHashSet());
        foreach (var (folder, name, text) in files)
        {
            foreach (Match m in UsingDirective().Matches(text))
                if (types.ContainsKey(m.Groups[1].Value) && m.Groups[1].Value != folder) yield return (folder, m.Groups[1].Value, name, "using");
            string code = CommentOrString().Replace(text, c => c.Value.StartsWith('/') ? "" : c.Value);
            foreach (Match m in QualifiedName().Matches(code))
            {
                string to = m.Groups[1].Value, type = m.Groups[2].Value;
                if (to != folder && types.TryGetValue(to, out var declared) && declared.Contains(type)) yield return (folder, to, name, $"{to}.{type}");
            }
        }
    }

    [GeneratedRegex(@"^\s*(?:public|internal)?\s*(?:(?:sealed|static|abstract|readonly|partial|ref)\s+)*(?:class|record\s+struct|record|struct|interface|enum)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?IlgpuElmo\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"(?<![\w.])(?:IlgpuElmo\.)?(\w+)\.(\w+)")]
    private static partial Regex QualifiedName();

    /// <summary>A comment (dropped: doc comments name types without depending on them) or a string literal (kept, so "//" in it is no comment).</summary>
    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|""(?:[^""\\\n]|\\.)*""", RegexOptions.Singleline)]
    private static partial Regex CommentOrString();
}
