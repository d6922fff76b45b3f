using System.Text.Json.Nodes;
using IlgpuElmo.Formats;

namespace IlgpuElmo.Tests.Formats;

public class TensorArchiveTests
{
    [Fact]
    public void RoundTripsTensorsAndMetadata()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "c.bin");
        var a = TestData.Random(new Random(1), 6);
        TensorArchive.Write(path, new JsonObject { ["step"] = 7 }, [("a", [2, 3], a), ("b", [0], [])]);
        var (meta, tensors) = TensorArchive.Read(path);
        Assert.Equal(7, meta["step"]!.GetValue<int>());
        Assert.Equal(a, tensors["a"].Data);
        Assert.Equal([2, 3], tensors["a"].Shape);
        Assert.Empty(tensors["b"].Data);
        Assert.Single(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void TruncatedOrAlteredFilesAreRejectedByName()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "c.bin");
        TensorArchive.Write(path, new JsonObject(), [("a", [100], TestData.Random(new Random(2), 100))]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var cut = Assert.Throws<InputException>(() => TensorArchive.Read(path));
        Assert.Contains("c.bin", cut.Message);
        Assert.Contains("truncated", cut.Message);
        bytes[100] ^= 1;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Assert.Throws<InputException>(() => TensorArchive.Read(path)).Message);
    }
}
