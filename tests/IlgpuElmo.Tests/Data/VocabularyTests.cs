using IlgpuElmo.Data;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Data;

public class VocabularyTests
{
    [Fact]
    public void BuildSortsByFrequencyWithSpecialsFirstAndAppliesMinCount()
    {
        using var temp = new TempDirectory();
        string a = temp.File("a.txt", "the cat sat\nthe dog sat\n\n");
        string b = temp.File("b.txt", "the end\n");
        var (vocab, stats) = Vocabulary.Build([a, b], minCount: 2, new SentenceReader());
        Assert.Equal(["<S>", "</S>", "<UNK>", "the", "sat"], vocab.Words);
        Assert.Equal(8, stats.Tokens);
        Assert.Equal(3, stats.Sentences);
        Assert.Equal(vocab.UnkId, vocab.IdOf("cat"));
        string path = Path.Combine(temp.Path, "vocab.txt");
        vocab.Save(path);
        Assert.Equal(vocab.Words, Vocabulary.Load(path).Words);
    }

    [Fact]
    public void BadVocabularyFilesNameTheProblem()
    {
        using var temp = new TempDirectory();
        var missing = Assert.Throws<InputException>(() => Vocabulary.Load(temp.File("v.txt", "the\ncat\n")));
        Assert.Contains("<S>", missing.Message);
        var twice = Assert.Throws<InputException>(() => Vocabulary.Load(temp.File("w.txt", "<S>\n</S>\n<UNK>\ncat\ncat\n")));
        Assert.Contains("line 5", twice.Message);
        Assert.Throws<InputException>(() => Vocabulary.Load(Path.Combine(temp.Path, "none.txt")));
    }

    [Fact]
    public void InvalidUtf8LinesAreSkippedAndCounted()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "bad.txt");
        File.WriteAllBytes(path, [.. "good line\n"u8, 0xff, 0xfe, (byte)'\n', .. "naïve 北京\n"u8]);
        var reader = new SentenceReader();
        var sentences = reader.Read(path).ToList();
        Assert.Equal(2, sentences.Count);
        Assert.Equal(["naïve", "北京"], sentences[1]);
        Assert.Equal(1, reader.InvalidLines);
        Assert.Contains("bad.txt:2", reader.Warning);
    }

    [Fact]
    public void CorpusPatternsExpandOrFailClearly()
    {
        using var temp = new TempDirectory();
        temp.File("c/one.txt", "a b\n");
        temp.File("c/two.txt", "c\n");
        temp.File("c/sub/three.txt", "d\n");
        temp.File("empty/e.txt", "");
        Assert.Equal(2, CorpusFiles.Expand(Path.Combine(temp.Path, "c", "*.txt"), "--train").Count);
        Assert.Equal(3, CorpusFiles.Expand(Path.Combine(temp.Path, "c", "**", "*.txt"), "--train").Count);
        Assert.Equal(2, CorpusFiles.Expand(Path.Combine(temp.Path, "c"), "--train").Count);
        var none = Assert.Throws<InputException>(() => CorpusFiles.Expand(Path.Combine(temp.Path, "nope", "*.txt"), "--train"));
        Assert.Contains("--train", none.Message);
        Assert.Contains("no file matches", none.Message);
        var empty = Assert.Throws<InputException>(() => CorpusFiles.Expand(Path.Combine(temp.Path, "empty"), "--test"));
        Assert.Contains("empty", empty.Message);
    }
}
