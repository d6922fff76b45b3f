using IlgpuElmo.Formats;
using PureHDF;

namespace IlgpuElmo.Tests.Formats;

public class EmbeddingsWriterTests
{
    const int Layers = 3, Width = 6;

    /// <summary>Lines of 4, 0 (empty), 1 and 3 tokens, each line's layers [3, n, 6].</summary>
    static (int[] Tokens, float[][] Values) Lines(int seed)
    {
        var random = new Random(seed);
        int[] tokens = [4, 0, 1, 3];
        return (tokens, tokens.Select(n => TestData.Random(random, Layers * n * Width, 3f)).ToArray());
    }

    static void WriteAll(string path, EmbeddingOutput output, int[] tokens, float[][] values)
    {
        using var writer = new EmbeddingsWriter(path, tokens, Layers, Width, output);
        foreach (int line in new[] { 3, 1, 0, 2 }) writer.Write(line, values[line]);
        writer.Commit();
    }

    [Fact]
    public void AllLayersInBilmTfLayoutWithAnEmptyLineInPlace()
    {
        using var folder = new TempFolder();
        string path = folder.File("emb.hdf5");
        var (tokens, values) = Lines(21);
        WriteAll(path, new EmbeddingOutput(), tokens, values);

        using var h5 = H5File.OpenRead(path);
        Assert.Equal(["0", "1", "2", "3"], h5.Children().Select(c => c.Name).OrderBy(n => n));
        for (int line = 0; line < tokens.Length; line++)
        {
            var ds = h5.Dataset(line.ToString());
            Assert.Equal([(ulong)Layers, (ulong)tokens[line], (ulong)Width], ds.Space.Dimensions);
            Assert.Equal(4, ds.Type.Size);
            if (tokens[line] > 0) Assert.Equal(values[line], ds.Read<float[]>());
        }
    }

    [Fact]
    public void Float16StorageRoundsWithinHalfPrecision()
    {
        using var folder = new TempFolder();
        string path = folder.File("emb16.hdf5");
        var (tokens, values) = Lines(22);
        WriteAll(path, new EmbeddingOutput(Storage: Hdf5Storage.Float16), tokens, values);
        using var file = WeightFile.Open(path);
        using var h5 = H5File.OpenRead(path);
        Assert.Equal(2, h5.Dataset("0").Type.Size);
        for (int line = 0; line < tokens.Length; line++)
        {
            var back = file.Read(line.ToString(), Layers, tokens[line], Width);
            // float16 has an 11-bit significand: relative rounding error at most 2^-11.
            TestData.AssertClose(back, values[line].Select(v => (double)v).ToArray(), Math.Pow(2, -11), 1e-7, $"line {line}");
        }
    }

    [Fact]
    public void TopAverageMixAndMeanPooledOutputs()
    {
        using var folder = new TempFolder();
        var (tokens, values) = Lines(23);
        float[] weights = [0.2f, 0.3f, 0.5f];
        const float gamma = 1.5f;
        var cases = new (EmbeddingOutput Output, Func<int, int, int, double> Expected)[]
        {
            (new(EmbeddingLayers.Top), (line, t, c) => values[line][Index(2, t, c, tokens[line])]),
            (new(EmbeddingLayers.Average), (line, t, c) => Enumerable.Range(0, Layers).Average(l => (double)values[line][Index(l, t, c, tokens[line])])),
            (new(EmbeddingLayers.Mix, weights, gamma), (line, t, c) => gamma * Enumerable.Range(0, Layers).Sum(l => (double)weights[l] * values[line][Index(l, t, c, tokens[line])])),
        };
        foreach (var (output, expected) in cases)
        {
            string path = folder.File($"{output.Layers}.hdf5");
            WriteAll(path, output, tokens, values);
            using var file = WeightFile.Open(path);
            for (int line = 0; line < tokens.Length; line++)
            {
                int n = tokens[line];
                var back = file.Read(line.ToString(), n, Width);
                var want = new double[n * Width];
                for (int t = 0; t < n; t++)
                    for (int c = 0; c < Width; c++) want[t * Width + c] = expected(line, t, c);
                TestData.AssertClose(back, want, 1e-6, 1e-6, $"{output.Layers} line {line}");
            }

            string pooledPath = folder.File($"{output.Layers}-pooled.hdf5");
            WriteAll(pooledPath, output with { MeanPool = true }, tokens, values);
            using var pooled = WeightFile.Open(pooledPath);
            for (int line = 0; line < tokens.Length; line++)
            {
                int n = tokens[line];
                var back = pooled.Read(line.ToString(), Width);
                if (n == 0)
                {
                    Assert.All(back, v => Assert.True(float.IsNaN(v), $"{output.Layers} pooled empty line: {v}"));
                    continue;
                }
                var want = Enumerable.Range(0, Width).Select(c => Enumerable.Range(0, n).Average(t => expected(line, t, c))).ToArray();
                TestData.AssertClose(back, want, 1e-6, 1e-6, $"{output.Layers} pooled line {line}");
            }
        }

        string allPooled = folder.File("all-pooled.hdf5");
        WriteAll(allPooled, new EmbeddingOutput(MeanPool: true), tokens, values);
        using var all = WeightFile.Open(allPooled);
        Assert.Equal([Layers, Width], all.ShapeOf("0"));
        Assert.Equal([Layers, Width], all.ShapeOf("1"));
        Assert.All(all.Read("1", Layers, Width), v => Assert.True(float.IsNaN(v)));
        var line3 = all.Read("3", Layers, Width);
        Assert.Equal(Enumerable.Range(0, 3).Average(t => (double)values[3][Index(1, t, 4, 3)]), line3[Width + 4], 1e-6);
    }

    static int Index(int layer, int token, int column, int tokens) => (layer * tokens + token) * Width + column;

    [Fact]
    public void WritesRowsOfATimeMajorBatch()
    {
        using var folder = new TempFolder();
        string path = folder.File("batch.hdf5");
        int steps = 4, batch = 3;
        var batchValues = TestData.Random(new Random(24), Layers * steps * batch * Width);
        int[] tokens = [4, 2, 0];
        using (var writer = new EmbeddingsWriter(path, tokens, Layers, Width, new EmbeddingOutput()))
        {
            for (int row = 0; row < batch; row++) writer.WriteFromBatch(row, batchValues, steps, batch, row);
            writer.Commit();
        }
        using var file = WeightFile.Open(path);
        var line1 = file.Read("1", Layers, 2, Width);
        for (int l = 0; l < Layers; l++)
            for (int t = 0; t < 2; t++)
                for (int c = 0; c < Width; c++)
                    Assert.Equal(batchValues[((l * steps + t) * batch + 1) * Width + c], line1[(l * 2 + t) * Width + c]);
        Assert.Equal([Layers, 0, Width], file.ShapeOf("2"));
    }

    [Fact]
    public void UnwrittenLinesBadMixesAndAbandonedDumpsFail()
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.hdf5");
        var (tokens, values) = Lines(25);
        using (var writer = new EmbeddingsWriter(path, tokens, Layers, Width, new EmbeddingOutput()))
        {
            writer.Write(0, values[0]);
            var e = Assert.Throws<InvalidOperationException>(() => writer.Commit());
            Assert.Contains("'2', '3'", e.Message);
            Assert.Throws<ArgumentException>(() => writer.Write(2, values[3]));
        }
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(folder.Path));
        var mix = Assert.Throws<InputException>(() => new EmbeddingsWriter(path, tokens, Layers, Width, new EmbeddingOutput(EmbeddingLayers.Mix, [0.5f, 0.5f])));
        Assert.Contains("2 weights", mix.Message);
        Assert.Contains("3 layers", mix.Message);
    }

    [Fact]
    public void TokenEmbeddingsFileRoundTrip()
    {
        using var folder = new TempFolder();
        string path = folder.File("tokens.hdf5");
        var table = TestData.Random(new Random(26), 11 * 4);
        TokenEmbeddingsFile.Write(path, table, 11, 4);
        using (var h5 = H5File.OpenRead(path))
        {
            Assert.Equal(["embedding"], h5.Children().Select(c => c.Name));
            Assert.Equal([11ul, 4ul], h5.Dataset("embedding").Space.Dimensions);
        }
        Assert.Equal(table, TokenEmbeddingsFile.Read(path, out int words, out int dim, expectedDim: 4));
        Assert.Equal((11, 4), (words, dim));
        var e = Assert.Throws<InputException>(() => TokenEmbeddingsFile.Read(path, out _, out _, 12, 4));
        Assert.Contains("[11, 4]", e.Message);
        Assert.Contains("[12, 4]", e.Message);
        Assert.Contains("'embedding'", e.Message);
    }
}
