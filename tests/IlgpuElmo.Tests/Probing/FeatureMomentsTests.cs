using IlgpuElmo.Probing;

namespace IlgpuElmo.Tests.Probing;

public class FeatureMomentsTests
{
    [Fact]
    public void StandardizationGivesEachLayersFeaturesMeanZeroAndVarianceOne()
    {
        var random = new Random(3);
        int width = 3;
        var moments = new FeatureMoments(layers: 2, width);
        var rows = new List<float[]>[] { [], [] };
        foreach (int tokens in new[] { 4, 7 })
            for (int layer = 0; layer < 2; layer++)
            {
                // Feature 2 of layer 1 is constant: it can only be centred.
                var block = Enumerable.Range(0, tokens * width).Select(i => layer == 1 && i % width == 2 ? 5f : (float)(random.NextDouble() * 10 - 3) * (layer + 1)).ToArray();
                moments.Add(layer, block);
                rows[layer].Add(block);
            }
        Assert.Equal(11, moments.Rows);
        var (scale, shift) = moments.Standardization();
        for (int layer = 0; layer < 2; layer++)
            for (int c = 0; c < width; c++)
            {
                var mapped = rows[layer].SelectMany(b => Enumerable.Range(0, b.Length / width).Select(r => (double)b[r * width + c] * scale[layer * width + c] + shift[layer * width + c])).ToArray();
                double mean = mapped.Average(), variance = mapped.Select(v => (v - mean) * (v - mean)).Average();
                Assert.Equal(0, mean, 5);
                Assert.Equal(layer == 1 && c == 2 ? 0 : 1, variance, 4);
            }
        Assert.Equal(1f, scale[width + 2]);
        Assert.Equal(-5f, shift[width + 2]);
    }
}
