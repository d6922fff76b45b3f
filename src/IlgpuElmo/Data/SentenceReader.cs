using System.Text;
using System.Text.Unicode;

namespace IlgpuElmo.Data;

/// <summary>
/// Reads a corpus file lazily as sentences (one per line, whitespace tokens), skipping blank lines and,
/// with a counted warning, lines that are not valid UTF-8 (a UTF-16 file is an error: <see cref="TextLines"/>).
/// A line of more than <see cref="MaxSentenceTokens"/> tokens is cut into sentences of that many (the last
/// shorter), read a piece at a time, so memory and a training stream's carried text stay bounded whatever
/// the line's length; each cut line is counted for a note. In a line longer than <see cref="PieceBytes"/>,
/// invalid UTF-8 skips only the piece it falls in.
/// </summary>
public sealed class SentenceReader
{
    /// <summary>The longest sentence made from one line; longer lines are cut (ordinary text has far shorter sentences).</summary>
    public const int MaxSentenceTokens = 1000;

    /// <summary>A line is read in pieces of at most this many bytes.</summary>
    public const int PieceBytes = 1 << 20;

    /// <summary>Lines skipped (wholly or, for very long lines, in part) because they were not valid UTF-8.</summary>
    public int InvalidLines { get; private set; }

    /// <summary>The first few skipped lines as "file:line", for the warning.</summary>
    public List<string> InvalidExamples { get; } = new();

    /// <summary>Lines cut into several sentences because they had more than <see cref="MaxSentenceTokens"/> tokens.</summary>
    public int CutLines { get; private set; }

    /// <summary>The first few cut lines as "file:line", for the note.</summary>
    public List<string> CutExamples { get; } = new();

    public IEnumerable<string[]> Read(string path)
    {
        var pending = new List<string>();
        int invalidLine = 0;
        bool cut = false;
        foreach (var (number, bytes, continues) in TextLines.ReadPieces(path, PieceBytes))
        {
            var tokens = Decode(bytes);
            if (tokens is null && invalidLine != number)
            {
                invalidLine = number;
                InvalidLines++;
                if (InvalidExamples.Count < 5) InvalidExamples.Add($"{path}:{number}");
            }
            if (!continues && pending.Count == 0 && tokens is { Length: > 0 and <= MaxSentenceTokens })
            {
                yield return tokens;
                continue;
            }
            if (tokens is not null) pending.AddRange(tokens);
            int taken = 0;
            for (; pending.Count - taken > MaxSentenceTokens || (pending.Count - taken == MaxSentenceTokens && continues); taken += MaxSentenceTokens)
            {
                cut = true;
                yield return pending.GetRange(taken, MaxSentenceTokens).ToArray();
            }
            pending.RemoveRange(0, taken);
            if (continues) continue;
            if (pending.Count > 0) yield return pending.ToArray();
            pending.Clear();
            if (cut)
            {
                CutLines++;
                if (CutExamples.Count < 5) CutExamples.Add($"{path}:{number}");
            }
            cut = false;
        }
    }

    /// <summary>The piece's tokens (none for a blank one), or null when it is not valid UTF-8.</summary>
    static string[]? Decode(List<byte> bytes)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        if (!Utf8.IsValid(span)) return null;
        return Encoding.UTF8.GetString(span).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The warning to print, or null when nothing was skipped.</summary>
    public string? Warning => InvalidLines == 0 ? null :
        $"warning: skipped {InvalidLines} line(s) that are not valid UTF-8 (e.g. {string.Join(", ", InvalidExamples)}).";

    /// <summary>The note to print, or null when no line was cut.</summary>
    public string? CutNote => CutLines == 0 ? null :
        $"note: {CutLines} line(s) had more than {MaxSentenceTokens} tokens and were cut into sentences of at most {MaxSentenceTokens} " +
        $"(e.g. {string.Join(", ", CutExamples)}); training reads one sentence per line.";
}
