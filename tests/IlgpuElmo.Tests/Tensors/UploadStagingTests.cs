using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Tests.Tensors;

public class UploadStagingTests
{
    /// <summary>CopyFrom goes through the device's staging: no host wait, and the caller's array is free at once.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void UploadsDoNotWaitAndCopyTheSourceAtOnce(string mode)
    {
        var d = TestDevices.Get(mode);
        var data = TestData.Random(new Random(41), 300);
        var expected = (float[])data.Clone();
        using var first = d.Allocate<float>(new Shape(300));
        using var second = d.Allocate<float>(new Shape(300));
        var before = d.Counters.Read();
        first.CopyFrom(d.Stream, data);
        Array.Reverse(data);
        second.CopyFrom(d.Stream, data);
        Array.Clear(data);
        var c = d.Counters.Read() - before;
        Assert.Equal(0, c.Synchronizations);
        Assert.Equal(2, c.Uploads);
        Assert.Equal(expected, first.ToArray(d.Stream));
        Assert.Equal(expected.Reverse(), second.ToArray(d.Stream));
    }

    /// <summary>More than the arena holds between two waits: it waits once, grows, and every upload still lands.</summary>
    [Fact]
    public void AnOverfullArenaWaitsGrowsAndKeepsEveryUpload()
    {
        var d = TestDevices.Host;
        using var stream = d.Accelerator.CreateStream();
        using var staging = new UploadStaging(stream, initialBytes: 1024);
        var random = new Random(42);
        var arrays = Enumerable.Range(0, 6).Select(_ => TestData.Random(random, 100)).ToList();
        var targets = arrays.Select(_ => d.Allocate<float>(new Shape(100))).ToList();
        try
        {
            long capacity = staging.CapacityBytes;
            for (int i = 0; i < arrays.Count; i++) staging.Upload<float>(arrays[i], targets[i].View);
            Assert.True(staging.CapacityBytes > capacity);
            Assert.Equal(1, DeviceCounters.WaitsOn(stream));
            DeviceCounters.Wait(stream);
            for (int i = 0; i < arrays.Count; i++) Assert.Equal(arrays[i], targets[i].HostSpan().ToArray());
        }
        finally
        {
            foreach (var t in targets) t.Dispose();
        }
    }
}
