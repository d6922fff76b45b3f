using System.Text;
using IlgpuElmo.Data;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Data;

public class TextLinesTests
{
    [Fact]
    public void AUtf8ByteOrderMarkIsSkippedAndLinesKeepTheirNumbers()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "bom.txt");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "the cat\n\nsat"u8.ToArray()]);
        var lines = TextLines.Read(path).Select(l => (l.Number, Encoding.UTF8.GetString(l.Bytes.ToArray()))).ToList();
        Assert.Equal([(1, "the cat"), (2, ""), (3, "sat")], lines);
        Assert.Equal(["the", "cat"], new SentenceReader().Read(path).First());
    }

    [Theory]
    [InlineData("utf-16", "UTF-16LE")]
    [InlineData("utf-16BE", "UTF-16BE")]
    [InlineData("utf-32", "UTF-32LE")]
    public void Utf16AndUtf32FilesAreRefusedNamingTheEncodingAndTheFix(string encoding, string named)
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "wide.txt");
        File.WriteAllText(path, "the cat sat .\n", Encoding.GetEncoding(encoding));
        var e = Assert.Throws<InputException>(() => new SentenceReader().Read(path).ToList());
        Assert.Contains($"{path} is {named} text", e.Message);
        Assert.Contains($"iconv -f {named} -t UTF-8", e.Message);
        Assert.Equal(e.Message, Assert.Throws<InputException>(() => CorpusFiles.Expand(path, "--train")).Message);
    }
}
