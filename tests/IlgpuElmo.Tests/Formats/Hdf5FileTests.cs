using IlgpuElmo.Formats;
using PureHDF;

namespace IlgpuElmo.Tests.Formats;

public class Hdf5FileTests
{
    [Fact]
    public void WrittenDatasetsReadBackWithNamesShapesAndValues()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.hdf5");
        var random = new Random(1);
        float[] a = TestData.Random(random, 2 * 3 * 4), b = TestData.Random(random, 5), c = TestData.Random(random, 6);
        using (var writer = new Hdf5Writer(path))
        {
            writer.Add("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", a, [2, 3, 4]);
            writer.Add("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B", b, [5]);
            writer.Add("half", c, [2, 3], Hdf5Storage.Float16);
            writer.Commit();
        }
        using var file = WeightFile.Open(path);
        Assert.Equal(["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B", "half"],
            file.DatasetNames().OrderBy(n => n == "half" ? 1 : 0).ThenByDescending(n => n.Length));
        Assert.Equal(a, file.Read("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", 2, 3, 4));
        Assert.Equal(b, file.Read("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B", -1));
        Assert.Equal([2, 3], file.ShapeOf("half"));
        var half = file.Read("half", 2, 3);
        for (int i = 0; i < c.Length; i++) Assert.Equal(c[i], half[i], 1e-3 * Math.Abs(c[i]));
        Assert.False(file.Contains("RNN_0/RNN"));
        Assert.Null(file.ShapeOf("nothing/here"));
    }

    [Fact]
    public void MissingDatasetAndWrongShapeNameTheFileTheDatasetAndBothShapes()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.hdf5");
        using (var writer = new Hdf5Writer(path))
        {
            writer.Add("CNN/W_cnn_0", new float[8], [1, 2, 4, 1]);
            writer.Commit();
        }
        using var file = WeightFile.Open(path);
        var missing = Assert.Throws<InputException>(() => file.Read("CNN/b_cnn_0", 1));
        Assert.Contains(path, missing.Message);
        Assert.Contains("'CNN/b_cnn_0'", missing.Message);
        Assert.Contains("[1]", missing.Message);
        Assert.Contains("CNN/W_cnn_0", missing.Message);
        var wrong = Assert.Throws<InputException>(() => file.Read("CNN/W_cnn_0", 1, 2, 4, 2));
        Assert.Contains("'CNN/W_cnn_0'", wrong.Message);
        Assert.Contains("[1, 2, 4, 1]", wrong.Message);
        Assert.Contains("[1, 2, 4, 2]", wrong.Message);
        Assert.Contains(path, wrong.Message);
        Assert.Throws<InputException>(() => WeightFile.Open(folder.File("absent.hdf5")));
        File.WriteAllText(folder.File("text.hdf5"), "not hdf5 at all");
        Assert.Throws<InputException>(() => WeightFile.Open(folder.File("text.hdf5")));
    }

    [Fact]
    public void WriterIsAtomic()
    {
        using var folder = new TempFolder();
        string path = folder.File("out.hdf5");
        using (var first = new Hdf5Writer(path))
        {
            first.Add("x", [1f, 2f], [2]);
            first.Commit();
        }
        using (var abandoned = new Hdf5Writer(path))
        {
            var declared = abandoned.Declare("y", [3]);
            abandoned.Add("x", [5f, 6f], [2]);
            abandoned.Write(declared, [1f, 2f, 3f]);
            // disposed without Commit: the old file stays, no temporary file is left
        }
        using (var file = WeightFile.Open(path)) Assert.Equal([1f, 2f], file.Read("x", 2));
        Assert.Equal(["out.hdf5"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));

        using var incomplete = new Hdf5Writer(path);
        incomplete.Declare("never", [2]);
        Assert.Throws<InvalidOperationException>(() => incomplete.Commit());
    }

    [Fact]
    public void DeclaredDatasetsStreamInAnyOrderAndMayBeEmpty()
    {
        using var folder = new TempFolder();
        string path = folder.File("s.hdf5");
        using (var writer = new Hdf5Writer(path, Hdf5Storage.Float16))
        {
            var first = writer.Declare("0", [2, 2]);
            var empty = writer.Declare("1", [3, 0, 2]);
            var last = writer.Declare("2", [1, 3], Hdf5Storage.Float32);
            writer.Write(last, [0.1f, 0.2f, 0.3f]);
            writer.Write(first, [1f, 2f, 3f, 4f]);
            Assert.True(empty.Written);
            Assert.Throws<InvalidOperationException>(() => writer.Add("late", [1f], [1]));
            writer.Commit();
        }
        using var h5 = H5File.OpenRead(path);
        Assert.Equal(2, h5.Dataset("0").Type.Size);
        Assert.Equal(4, h5.Dataset("2").Type.Size);
        Assert.Equal([3ul, 0ul, 2ul], h5.Dataset("1").Space.Dimensions);
        using var file = WeightFile.Open(path);
        Assert.Equal([1f, 2f, 3f, 4f], file.Read("0", 2, 2));
        Assert.Equal([0.1f, 0.2f, 0.3f], file.Read("2", 1, 3));
        Assert.Empty(file.Read("1", 3, 0, 2));
    }

    [Fact]
    public void ReadsFilesWrittenByTheReferenceHdf5Library()
    {
        // Written by h5py (libhdf5): contiguous float32, chunked gzip+shuffle float32, and float64 datasets.
        using var file = WeightFile.Open(TempFolder.Fixture("bilm_weights_tiny.hdf5"));
        var w0 = file.Read("RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0", 16, 64);
        var b = file.Read("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B", 64);
        Assert.Equal(16 * 64, w0.Length);
        Assert.Equal(64, b.Length);
        Assert.Equal(23, file.DatasetNames().Count);
    }

    [Fact]
    public void ATruncatedWeightFileIsAnErrorNamingItAtEveryCutPoint()
    {
        string fixture = TempFolder.Fixture("bilm_weights_tiny.hdf5");
        byte[] bytes = File.ReadAllBytes(fixture);
        var expected = new Dictionary<string, float[]>();
        using (var whole = WeightFile.Open(fixture))
            foreach (var name in whole.DatasetNames()) expected[name] = whole.Read(name, out _);
        using var folder = new TempFolder();
        string path = folder.File("cut.hdf5");
        var cuts = Enumerable.Range(0, 64).Select(i => (int)((long)bytes.Length * i / 64)).Concat([1, 7, 8, 100, 511, 512, bytes.Length - 1]).Distinct();
        int refused = 0;
        foreach (int cut in cuts)
        {
            File.WriteAllBytes(path, bytes[..cut]);
            try
            {
                using var file = WeightFile.Open(path);
                foreach (var (name, values) in expected)
                    Assert.True(values.AsSpan().SequenceEqual(file.Read(name, out _)), $"cut at {cut}: '{name}' read back different values without an error");
            }
            catch (InputException e)
            {
                Assert.Contains(path, e.Message);
                Assert.DoesNotContain('\n', e.Message);
                refused++;
            }
        }
        Assert.True(refused >= 64, $"only {refused} cuts were refused");
    }
}
