using IlgpuElmo.Encoders;

namespace IlgpuElmo.Tests.Encoders;

public class TokenVectorCacheTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void CachedVectorsAreExactlyTheEncodersOutput(string mode)
    {
        var d = TestDevices.Get(mode);
        var options = new CharCnnOptions(4, [new(1, 3), new(2, 4), new(3, 5)], 1);
        using var encoder = new CharacterEncoder(d, options, projectionDim: 6);
        encoder.Initialize(seed: 3);
        string[] words = ["<S>", "</S>", "the", "naïve", "北京", "cat"];
        using var cache = TokenVectorCache.Build(d, encoder, words, batchSize: 4);

        string[] sentence = ["<S>", "cat", "the", "北京", "the", "</S>"];
        var ids = new int[sentence.Length * CharacterMapper.MaxCharacters];
        new CharacterMapper().Write(sentence, ids);
        using var dIds = d.Upload<int>(ids, sentence.Length, CharacterMapper.MaxCharacters);
        using var direct = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(sentence.Length, 6));
        encoder.Forward(d.Stream, dIds, direct);
        using var looked = d.Upload<float>(TestData.Poison(sentence.Length * 6), sentence.Length, 6);
        cache.Lookup(d.Stream, sentence, looked);
        Assert.Equal(direct.ToArray(d.Stream), looked.ToArray(d.Stream));

        Assert.True(cache.TryGetRow("naïve", out int row));
        Assert.Equal(3, row);
        var e = Assert.Throws<InputException>(() => cache.Lookup(d.Stream, ["dog"], looked.Slice(0, 1)));
        Assert.Contains("'dog'", e.Message);
    }

    [Fact]
    public void BuiltFromStoredVectors()
    {
        var d = TestDevices.Host;
        float[] vectors = [1, 2, 3, 4, 5, 6];
        using var cache = new TokenVectorCache(d, vectors, ["a", "b", "c"], 2);
        using var output = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(2, 2));
        cache.Lookup(d.Stream, ["c", "a"], output);
        Assert.Equal([5f, 6f, 1f, 2f], output.ToArray(d.Stream));
        Assert.Throws<InputException>(() => new TokenVectorCache(d, vectors, ["a", "a", "c"], 2));
    }
}
