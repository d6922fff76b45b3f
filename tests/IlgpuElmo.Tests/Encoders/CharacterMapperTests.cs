using System.Text;
using IlgpuElmo.Encoders;

namespace IlgpuElmo.Tests.Encoders;

/// <summary>Expected ids written out from allennlp's ELMoCharacterMapper rules (bytes + 1, bow 259, eow 260, pad 261).</summary>
public class CharacterMapperTests
{
    static readonly CharacterMapper Mapper = new();

    static int[] Expected(params int[] inner)
    {
        var ids = Enumerable.Repeat(261, 50).ToArray();
        ids[0] = 259;
        for (int k = 0; k < inner.Length; k++) ids[k + 1] = inner[k];
        ids[inner.Length + 1] = 260;
        return ids;
    }

    [Fact]
    public void AsciiWordIsItsBytesPlusOneBetweenWordMarks()
    {
        Assert.Equal(Expected(100, 98, 117), Mapper.ToIds("cat"));
    }

    [Fact]
    public void MultiByteCharactersGiveTheirUtf8Bytes()
    {
        // naïve: n a 0xC3 0xAF v e; 北京: E5 8C 97 E4 BA AC.
        Assert.Equal(Expected(111, 98, 0xC3 + 1, 0xAF + 1, 119, 102), Mapper.ToIds("naïve"));
        Assert.Equal(Expected(0xE5 + 1, 0x8C + 1, 0x97 + 1, 0xE4 + 1, 0xBA + 1, 0xAC + 1), Mapper.ToIds("北京"));
    }

    [Fact]
    public void LongTokensKeepTheirFirst48Bytes()
    {
        var ids = Mapper.ToIds(new string('a', 60));
        Assert.Equal(Expected(Enumerable.Repeat(98, 48).ToArray()), ids);
        Assert.Equal(260, ids[49]);
        // 17 three-byte characters = 51 bytes: the cut falls inside the 17th character, as in Python's bytes[:48].
        string han = string.Concat(Enumerable.Repeat("京", 17));
        var bytes = Encoding.UTF8.GetBytes(han).Take(48).Select(b => b + 1).ToArray();
        Assert.Equal(Expected(bytes), Mapper.ToIds(han));
    }

    [Fact]
    public void SentenceBoundariesAndPadding()
    {
        Assert.Equal(Expected(257), Mapper.ToIds("<S>"));
        Assert.Equal(Expected(258), Mapper.ToIds("</S>"));
        var batch = new int[100];
        Mapper.Write(["a", null], batch);
        Assert.Equal(Expected(98), batch[..50]);
        Assert.All(batch[50..], id => Assert.Equal(0, id));
    }

    [Fact]
    public void UnpairedSurrogatesAreDroppedAndEmptyWordsAreJustMarks()
    {
        Assert.Equal(Expected(98, 99), Mapper.ToIds("a\uD800b"));
        Assert.Equal(Expected(), Mapper.ToIds(""));
    }

    [Fact]
    public void ExtraTokensGetTheirCharacter()
    {
        var mapper = new CharacterMapper(new Dictionary<string, int> { ["@@MASK@@"] = 5 });
        Assert.Equal(Expected(6), mapper.ToIds("@@MASK@@"));
        Assert.Throws<InputException>(() => new CharacterMapper(new Dictionary<string, int> { ["x"] = 300 }));
    }
}
