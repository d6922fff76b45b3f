using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Tensors;

public class DeviceTensorTests
{
    readonly ComputeDevice device = TestDevices.Host;

    [Fact]
    public void CopiesRoundTrip()
    {
        var data = TestData.Random(new Random(1), 24);
        using var t = device.Upload<float>(data, 2, 3, 4);
        Assert.Equal(new Shape(2, 3, 4), t.Shape);
        Assert.Equal(data, t.ToArray(device.Stream));
        using var ids = device.Upload<int>(new[] { 5, -1, 7 }, 3);
        Assert.Equal(new[] { 5, -1, 7 }, ids.ToArray(device.Stream));
    }

    [Fact]
    public void SlicesAndReshapesAreViewsOfTheSameMemory()
    {
        var data = Enumerable.Range(1, 24).Select(i => (float)i).ToArray();
        using var t = device.Upload<float>(data, 4, 6);
        var middle = t.Slice(1, 2);
        Assert.Equal(new Shape(2, 6), middle.Shape);
        Assert.Equal(data[6..18], middle.ToArray(device.Stream));
        var row = t.Row(3);
        Assert.Equal(new Shape(6), row.Shape);
        Assert.False(row.OwnsBuffer);
        row.CopyFrom(device.Stream, new float[] { -1, -2, -3, -4, -5, -6 });
        Assert.Equal(-1f, t.ToArray(device.Stream)[18]);
        var flat = t.Reshape(2, 12);
        Assert.Equal(-6f, flat.ToArray(device.Stream)[23]);
    }

    [Fact]
    public void ShapeErrorsNameBothShapes()
    {
        using var t = device.Allocate<float>(new([2, 3]));
        var e = Assert.Throws<ShapeMismatchException>(() => t.Reshape(4, 2));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        var e2 = Assert.Throws<ShapeMismatchException>(() => t.Expect("gates", new Shape(3, 2)));
        Assert.Contains("gates", e2.Message);
        Assert.Contains("[3, 2]", e2.Message);
        Assert.Contains("[2, 3]", e2.Message);
        Assert.Throws<ShapeMismatchException>(() => t.CopyFrom(device.Stream, new float[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(1, 2));
    }

    [Fact]
    public void OutOfMemorySaysWhatWasAskedAndWhatToLower()
    {
        device.MemoryHint = "lower --batch-size";
        var e = Assert.Throws<DeviceMemoryException>(() => device.Allocate<float>(new([1 << 30, 1 << 12]), "softmax logits"));
        Assert.Contains("softmax logits", e.Message);
        Assert.Contains("needs 16384.00 GiB", e.Message);
        Assert.Contains("--batch-size", e.Message);
        Assert.Contains($"the device has {ComputeDevice.FormatBytes(global::IlgpuElmo.Devices.DeviceCatalog.HostMemoryBytes)} in all", e.Message);
        Assert.DoesNotContain("8589934592", e.Message);
    }
}
