using System.Text;
using IlgpuElmo.Data;

namespace IlgpuElmo.Tests.Data;

/// <summary>Lines longer than a sentence may be: cut into sentences, read in pieces, never held whole.</summary>
public class SentenceReaderTests
{
    const int Max = SentenceReader.MaxSentenceTokens;

    static string Words(int count, int from = 0) => string.Join(' ', Enumerable.Range(from, count).Select(i => $"w{i}"));

    [Fact]
    public void ALineOfMoreThanTheMostTokensIsCutIntoSentencesAndCountedForANote()
    {
        using var temp = new TempDirectory();
        string path = temp.File("long.txt", $"a short line\n{Words(2 * Max + 7)}\n{Words(Max)}\n");
        var reader = new SentenceReader();
        var sentences = reader.Read(path).ToList();
        Assert.Equal([3, Max, Max, 7, Max], sentences.Select(s => s.Length));
        Assert.Equal(Words(2 * Max + 7).Split(' '), sentences.Skip(1).Take(3).SelectMany(s => s));
        Assert.Equal(1, reader.CutLines);
        Assert.Contains($"1 line(s) had more than {Max} tokens and were cut into sentences of at most {Max} (e.g. {path}:2)", reader.CutNote);
        Assert.Null(reader.Warning);
        Assert.Equal(3 + 1 + 2 * Max + 7 + 3 + Max + 1, LmBatcher.CountTargets([path]));
    }

    [Fact]
    public void ALineLongerThanAPieceIsReadInPiecesThatSplitNoWordAndNoCharacter()
    {
        using var temp = new TempDirectory();
        // Words of 1 to 5 characters, some two-byte (é) and three-byte (€), one line well over two pieces.
        var random = new Random(3);
        var words = Enumerable.Range(0, 900_000).Select(_ => new string("aé€xy"[random.Next(5)], 1 + random.Next(5))).ToList();
        string path = Path.Combine(temp.Path, "one-line.txt");
        File.WriteAllText(path, "first line\n" + string.Join(' ', words) + "\nlast line");
        Assert.True(new FileInfo(path).Length > 2 * SentenceReader.PieceBytes);

        var pieces = TextLines.ReadPieces(path, SentenceReader.PieceBytes).Select(p => (p.Number, p.Bytes.Count, p.Continues)).ToList();
        Assert.All(pieces, p => Assert.True(p.Count <= SentenceReader.PieceBytes));
        var longLine = pieces.Where(p => p.Number == 2).ToList();
        Assert.Equal(pieces.Count - 2, longLine.Count);
        Assert.True(longLine.Count > 2, $"{longLine.Count} pieces");
        Assert.Equal([(1, false), (3, false)], [(pieces[0].Number, pieces[0].Continues), (pieces[^1].Number, pieces[^1].Continues)]);
        Assert.Equal(Enumerable.Range(0, longLine.Count).Select(i => i < longLine.Count - 1), longLine.Select(p => p.Continues));

        var reader = new SentenceReader();
        var sentences = reader.Read(path).ToList();
        Assert.Equal(["first", "line"], sentences[0]);
        Assert.Equal(["last", "line"], sentences[^1]);
        var middle = sentences.Skip(1).SkipLast(1).ToList();
        Assert.All(middle.SkipLast(1), s => Assert.Equal(Max, s.Length));
        Assert.Equal(words, middle.SelectMany(s => s));
        Assert.Equal(1, reader.CutLines);
        Assert.Equal(0, reader.InvalidLines);
    }

    [Fact]
    public void InvalidUtf8InAVeryLongLineSkipsOnlyItsPiece()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "bad.txt");
        byte[] word = "abcdefg "u8.ToArray();
        int perPiece = SentenceReader.PieceBytes / word.Length;
        using (var file = File.Create(path))
        {
            for (int i = 0; i < 3 * perPiece; i++)
            {
                if (i == perPiece + 10) file.Write([0xC3, 0x28, (byte)' ']);
                file.Write(word);
            }
        }
        var reader = new SentenceReader();
        long tokens = reader.Read(path).Sum(s => (long)s.Length);
        Assert.Equal(1, reader.InvalidLines);
        Assert.Contains($"{path}:1", reader.Warning);
        // One piece of about a megabyte is lost, the rest of the line is read.
        Assert.InRange(tokens, 3 * perPiece - perPiece - 2, 3 * perPiece - perPiece / 2);
    }

    [Fact]
    public void OrdinaryLinesComeAsBeforeWithoutANote()
    {
        using var temp = new TempDirectory();
        string path = temp.File("plain.txt", "the cat  sat\n \t\n\u00a0a\u2003dog\u00a0\n");
        var reader = new SentenceReader();
        Assert.Equal([["the", "cat", "sat"], ["a", "dog"]], reader.Read(path).ToList());
        Assert.Null(reader.CutNote);
        Assert.Equal([(1, "the cat  sat"), (2, " \t"), (3, "\u00a0a\u2003dog\u00a0")],
            TextLines.Read(path).Select(l => (l.Number, Encoding.UTF8.GetString(l.Bytes.ToArray()))).ToList());
    }
}
