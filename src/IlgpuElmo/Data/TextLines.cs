namespace IlgpuElmo.Data;

/// <summary>
/// The lines of a UTF-8 text file as raw bytes, so each reader decides what an invalid line means
/// (training skips it, embedding keeps it with U+FFFD). A UTF-8 byte-order mark is skipped; a UTF-16 or
/// UTF-32 one is an error naming the file and how to convert it, instead of text full of NUL characters.
/// </summary>
public static class TextLines
{
    /// <summary>
    /// Each line's number (from 1) and bytes without the '\n'. The list is reused: use it before the next line.
    /// </summary>
    public static IEnumerable<(int Number, List<byte> Bytes)> Read(string path) =>
        ReadPieces(path, int.MaxValue).Select(piece => (piece.Number, piece.Bytes));

    /// <summary>
    /// Like <see cref="Read"/>, but a line longer than <paramref name="maxBytes"/> comes in pieces of at most
    /// that many bytes, each with <c>Continues</c> true but the last, so a line's length never sets the memory
    /// used. A piece ends after the last ASCII whitespace in it (a word is never split), or, with none, before
    /// the last UTF-8 character that starts in it (a character is never split).
    /// </summary>
    public static IEnumerable<(int Number, List<byte> Bytes, bool Continues)> ReadPieces(string path, int maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[1 << 16];
        int count = stream.Read(buffer, 0, buffer.Length);
        int start = SkipByteOrderMark(path, buffer.AsSpan(0, count));
        var line = new List<byte>(256);
        var rest = new List<byte>();
        int number = 0;
        bool continued = false;
        while (count > 0)
        {
            for (int i = start; i < count; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    line.Add(buffer[i]);
                    if (line.Count < maxBytes) continue;
                    int cut = PieceEnd(line);
                    rest.Clear();
                    for (int k = cut; k < line.Count; k++) rest.Add(line[k]);
                    line.RemoveRange(cut, line.Count - cut);
                    yield return (number + 1, line, true);
                    continued = true;
                    line.Clear();
                    line.AddRange(rest);
                    continue;
                }
                yield return (++number, line, false);
                continued = false;
                line.Clear();
            }
            start = 0;
            count = stream.Read(buffer, 0, buffer.Length);
        }
        if (line.Count > 0 || continued) yield return (++number, line, false);
    }

    /// <summary>Where a full piece ends: after its last ASCII whitespace, else before its last character's first byte.</summary>
    static int PieceEnd(List<byte> piece)
    {
        for (int k = piece.Count - 1; k > 0; k--)
            if (piece[k] is (byte)' ' or (byte)'\t' or (byte)'\r' or 0x0B or 0x0C) return k + 1;
        for (int k = piece.Count - 1; k > 0; k--)
            if ((piece[k] & 0xC0) != 0x80) return k;
        return piece.Count;
    }

    /// <summary>Throws for a UTF-16/UTF-32 file (by its byte-order mark) before any work starts.</summary>
    public static void CheckEncoding(string path)
    {
        Span<byte> head = stackalloc byte[4];
        int count;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            count = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        SkipByteOrderMark(path, head[..count]);
    }

    /// <summary>The length of a UTF-8 byte-order mark at the start (3 or 0); throws for UTF-16 and UTF-32 marks.</summary>
    static int SkipByteOrderMark(string path, ReadOnlySpan<byte> start)
    {
        if (start.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) return 3;
        string? encoding =
            start.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0, 0]) ? "UTF-32LE"
            : start.StartsWith((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]) ? "UTF-32BE"
            : start.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) ? "UTF-16LE"
            : start.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? "UTF-16BE"
            : null;
        if (encoding is null) return 0;
        string name = Path.GetFileName(path);
        throw new InputException(
            $"{path} is {encoding} text (it starts with a byte-order mark); text files here are UTF-8. " +
            $"Convert it, e.g. iconv -f {encoding} -t UTF-8 {name} > {Path.GetFileNameWithoutExtension(name)}.utf8.txt");
    }
}
