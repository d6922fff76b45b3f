using IlgpuElmo.Encoders;

namespace IlgpuElmo.Tests.Encoders;

public class WordEmbeddingEncoderTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void LooksUpRowsAndAddsGradientsIntoTheTouchedRowsOnly(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(40);
        int v = 50, p = 8;
        int[] ids = [7, 3, 7, 49, 0, 7, 3];
        using var encoder = new WordEmbeddingEncoder(d, v, p);
        var table = TestData.Random(random, v * p);
        var prior = TestData.Random(random, v * p);
        encoder.Embedding.Value.CopyFrom(d.Stream, table);
        encoder.Embedding.Gradient.CopyFrom(d.Stream, prior);
        foreach (bool prepare in new[] { true, false })
        {
            using var dIds = d.Upload<int>(ids, ids.Length);
            using var output = d.Upload<float>(TestData.Poison(ids.Length * p), ids.Length, p);
            if (prepare) encoder.Prepare(d.Stream, ids);
            encoder.Forward(d.Stream, dIds, output);
            TestData.AssertClose(output.ToArray(d.Stream), ids.SelectMany(id => table.Skip(id * p).Take(p)).Select(x => (double)x).ToArray(), what: "lookup");

            var grad = TestData.Random(random, ids.Length * p);
            using var dGrad = d.Upload<float>(grad, ids.Length, p);
            var before = encoder.Embedding.Gradient.ToArray(d.Stream);
            encoder.Backward(d.Stream, dGrad);
            var expected = before.Select(x => (double)x).ToArray();
            for (int i = 0; i < ids.Length; i++)
                for (int c = 0; c < p; c++) expected[ids[i] * p + c] += grad[i * p + c];
            TestData.AssertClose(encoder.Embedding.Gradient.ToArray(d.Stream), expected, what: $"scatter (prepared: {prepare})");
            Assert.Equal(4, encoder.Embedding.TouchedCount);
            Assert.Equal([0, 3, 7, 49], encoder.Embedding.TouchedRows!.ToArray(d.Stream));
        }
    }

    [Fact]
    public void OutOfRangeIdIsAnInputErrorNamingItsPositionAndTheVocabulary()
    {
        var d = TestDevices.Host;
        using var encoder = new WordEmbeddingEncoder(d, 100, 4);
        var e = Assert.Throws<InputException>(() => encoder.Prepare(d.Stream, [5, 99, 100, 2]));
        Assert.Contains("id 100 at position 2", e.Message);
        Assert.Contains("100 rows", e.Message);
        Assert.Throws<InputException>(() => EmbeddingIds.CheckRange([-1], 10, "softmax targets"));
    }
}
