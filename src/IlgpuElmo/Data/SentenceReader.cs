using System.Text;
using System.Text.Unicode;

namespace IlgpuElmo.Data;

/// <summary>
/// Reads a corpus file lazily as sentences (one per line, whitespace tokens), skipping blank lines and,
/// with a counted warning, lines that are not valid UTF-8 (a UTF-16 file is an error: <see cref="TextLines"/>).
/// </summary>
public sealed class SentenceReader
{
    /// <summary>Lines skipped so far because they were not valid UTF-8.</summary>
    public int InvalidLines { get; private set; }

    /// <summary>The first few skipped lines as "file:line", for the warning.</summary>
    public List<string> InvalidExamples { get; } = new();

    public IEnumerable<string[]> Read(string path)
    {
        foreach (var (number, line) in TextLines.Read(path))
            if (Decode(path, number, line) is { } tokens) yield return tokens;
    }

    string[]? Decode(string path, int lineNumber, List<byte> bytes)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        if (!Utf8.IsValid(span))
        {
            InvalidLines++;
            if (InvalidExamples.Count < 5) InvalidExamples.Add($"{path}:{lineNumber}");
            return null;
        }
        var tokens = Encoding.UTF8.GetString(span).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return tokens.Length == 0 ? null : tokens;
    }

    /// <summary>The warning to print, or null when nothing was skipped.</summary>
    public string? Warning => InvalidLines == 0 ? null :
        $"warning: skipped {InvalidLines} line(s) that are not valid UTF-8 (e.g. {string.Join(", ", InvalidExamples)}).";
}
