using IlgpuElmo.Data;

namespace IlgpuElmo.Tests.Data;

public class BrownCorpusTests
{
    [Fact]
    public void ShipsAllFilesAndTokensWithAFixedSplit()
    {
        Assert.Equal(500, BrownCorpus.Files.Count);
        Assert.Equal(1_161_192, BrownCorpus.Files.Sum(f => f.Sentences.Sum(s => s.Words.Length)));
        Assert.Equal(400, BrownCorpus.Files.Count(f => f.Split == CorpusSplit.Train));
        Assert.Equal(50, BrownCorpus.Files.Count(f => f.Split == CorpusSplit.Dev));
        Assert.Equal(50, BrownCorpus.Files.Count(f => f.Split == CorpusSplit.Test));
        Assert.Equal("ca01", BrownCorpus.Files[0].Name);
        var first = BrownCorpus.Files[0].Sentences[0];
        Assert.Equal(["The", "Fulton", "County"], first.Words[..3]);
        Assert.Equal(["at", "np-tl", "nn-tl"], first.Tags[..3]);
        foreach (char genre in "abcdefghjklmnpr")
            Assert.Contains(BrownCorpus.Files, f => f.Split == CorpusSplit.Test && f.Name[1] == genre);
    }

    [Theory]
    [InlineData("nn-tl", "nn")]
    [InlineData("np$-hl", "np$")]
    [InlineData("NN-TL-HL", "nn")]
    [InlineData("ppss+md", "ppss+md")]
    [InlineData("fw-in-tl", "fw-in")]
    [InlineData("at", "at")]
    public void TagsLoseOnlyTheTitleHeadlineAndCitedMarkers(string tag, string expected) =>
        Assert.Equal(expected, BrownCorpus.NormalizeTag(tag));

    [Fact]
    public void ExtractsPlainTextSplitsOnce()
    {
        using var temp = new TempDirectory();
        string dir = BrownCorpus.ExtractText(temp.Path);
        Assert.Equal(400, Directory.GetFiles(Path.Combine(dir, "train")).Length);
        var firstLine = File.ReadLines(Path.Combine(dir, "train", "ca01.txt")).First();
        Assert.StartsWith("The Fulton County Grand Jury said Friday", firstLine);
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(dir, "train", "ca01.txt"));
        BrownCorpus.ExtractText(temp.Path);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(dir, "train", "ca01.txt")));
    }
}
