using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

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

    /// <summary>
    /// Page-locked registration refused (as under a sandbox): the staging says so in one line, and every
    /// upload still lands, as an ordinary copy that waits for the stream.
    /// </summary>
    [Fact]
    public void ARefusedPageLockedArenaFallsBackToWaitedCopiesWithOneLine()
    {
        var d = TestDevices.Host;
        using var stream = d.Accelerator.CreateStream();
        var log = new StringWriter();
        using var staging = new UploadStaging(stream, log: log,
            allocatePageLocked: (_, _) => throw new InvalidOperationException("cuMemHostRegister: operation not permitted (injected)"));
        Assert.False(staging.IsPageLocked);
        Assert.Equal(0, staging.CapacityBytes);
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("page-locked upload staging", lines[0]);
        Assert.Contains("injected", lines[0]);
        Assert.Contains("ordinary copies", lines[0]);
        var data = TestData.Random(new Random(43), 300);
        using var target = d.Allocate<float>(new Shape(300));
        long waits = DeviceCounters.WaitsOn(stream);
        target.CopyFrom(stream, data);
        Array.Clear(data);
        Assert.Equal(waits + 1, DeviceCounters.WaitsOn(stream));
        Assert.Equal(TestData.Random(new Random(43), 300), target.HostSpan().ToArray());
        Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Registration that works at first and is refused when the arena grows: that upload and the later ones wait instead.</summary>
    [Fact]
    public void ARefusedGrowthFallsBackToWaitedCopies()
    {
        var d = TestDevices.Host;
        using var stream = d.Accelerator.CreateStream();
        var log = new StringWriter();
        int calls = 0;
        using var staging = new UploadStaging(stream, initialBytes: 1024, log: log, allocatePageLocked: (accelerator, bytes) =>
            ++calls == 1 ? accelerator.AllocatePageLocked1D<byte>(bytes) : throw new InvalidOperationException("refused on growth (injected)"));
        var random = new Random(44);
        var arrays = Enumerable.Range(0, 4).Select(_ => TestData.Random(random, 300)).ToList();
        var targets = arrays.Select(_ => d.Allocate<float>(new Shape(300))).ToList();
        try
        {
            for (int i = 0; i < arrays.Count; i++) staging.Upload<float>(arrays[i], targets[i].View);
            Assert.False(staging.IsPageLocked);
            Assert.Contains("refused on growth", log.ToString());
            DeviceCounters.Wait(stream);
            for (int i = 0; i < arrays.Count; i++) Assert.Equal(arrays[i], targets[i].HostSpan().ToArray());
        }
        finally
        {
            foreach (var t in targets) t.Dispose();
        }
    }

    /// <summary>
    /// A one-time upload larger than the arena and than <see cref="UploadStaging.LargeUploadBytes"/> (a model's
    /// initial weights) is copied directly and waited for; the arena does not grow to hold it. Sizes are 64-bit:
    /// an upload of 3 GiB (the decision only, nothing allocated) bypasses the arena, and alignment does not wrap.
    /// </summary>
    [Fact]
    public void LargeOneTimeUploadsBypassTheArenaInSixtyFourBitArithmetic()
    {
        var d = TestDevices.Host;
        using var stream = d.Accelerator.CreateStream();
        using var staging = new UploadStaging(stream, initialBytes: 1 << 16);
        Assert.True(staging.Stages(UploadStaging.LargeUploadBytes));
        Assert.False(staging.Stages(UploadStaging.LargeUploadBytes + 4));
        Assert.False(staging.Stages(3L << 30));
        Assert.Equal((1L << 31) + 256, UploadStaging.AlignUp((1L << 31) + 1));
        Assert.Equal(5L << 30, UploadStaging.AlignUp(5L << 30));

        int n = (int)(UploadStaging.LargeUploadBytes / sizeof(float)) + 1;
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = i * 0.5f;
        using var target = d.Allocate<float>(new Shape(n));
        long capacity = staging.CapacityBytes, waits = DeviceCounters.WaitsOn(stream);
        staging.Upload<float>(data, target.View);
        Assert.Equal(capacity, staging.CapacityBytes);
        Assert.Equal(waits + 1, DeviceCounters.WaitsOn(stream));
        Assert.Equal(data, target.HostSpan().ToArray());
    }
}
