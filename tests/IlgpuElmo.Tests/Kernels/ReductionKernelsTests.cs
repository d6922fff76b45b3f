using IlgpuElmo.Kernels;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Kernels;

public class ReductionKernelsTests
{
    static ReductionKernels Kernels(ComputeDevice d) => d.Kernels(rt => new ReductionKernels(rt));

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void SquaredNormBlocksSumToTheSquaredNormAndWriteEveryPartial(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        var x = TestData.Random(new Random(31), 1237, 2f);
        int blocks = k.BlocksFor(x.Length);
        Assert.InRange(blocks, 2, x.Length);
        using var dx = d.Upload<float>(x, x.Length);
        using var partials = d.Upload<float>(TestData.Poison(blocks + 3), blocks + 3);
        var used = partials.View.SubView(0, blocks);
        k.SquaredNormBlocks(d.Stream, dx.View, used);
        var result = partials.ToArray(d.Stream);
        Assert.All(result[..blocks], v => Assert.True(float.IsFinite(v) && v >= 0));
        Assert.Equal(x.Sum(v => (double)v * v), result[..blocks].Sum(v => (double)v), 2);
        Assert.All(result[blocks..], v => Assert.True(float.IsNaN(v)));  // past the partials: untouched

        // More blocks than elements: the spare blocks write zeros.
        using var tiny = d.Upload<float>([3f, -4f], 2);
        using var many = d.Upload<float>(TestData.Poison(5), 5);
        k.SquaredNormBlocks(d.Stream, tiny.View, many.View);
        var spread = many.ToArray(d.Stream);
        Assert.Equal(25.0, spread.Sum(v => (double)v), 5);
        Assert.All(spread, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void SquaredNormRowBlocksCoverOnlyTheListedRows(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        int rows = 9, width = 7;
        var table = TestData.Random(new Random(32), rows * width);
        int[] listed = [7, 2, 5];
        using var dt = d.Upload<float>(table, rows * width);
        using var ids = d.Upload<int>(listed, listed.Length);
        using var partials = d.Upload<float>(TestData.Poison(4), 4);
        k.SquaredNormRowBlocks(d.Stream, new RowSet(ids.View, listed.Length, width), dt.View, partials.View);
        double expected = listed.Sum(r => Enumerable.Range(0, width).Sum(c => (double)table[r * width + c] * table[r * width + c]));
        var result = partials.ToArray(d.Stream);
        Assert.All(result, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(expected, result.Sum(v => (double)v), 4);

        k.SquaredNormRowBlocks(d.Stream, new RowSet(ids.View, 0, width), dt.View, partials.View);
        Assert.All(partials.ToArray(d.Stream), v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void FinishNormWritesTheNormAndTheClipScale(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        var partials = TestData.Random(new Random(33), 53).Select(v => v * v * 10).ToArray();
        double norm = Math.Sqrt(partials.Sum(v => (double)v));
        using var dp = d.Upload<float>(partials, partials.Length);
        using var output = d.Upload<float>(TestData.Poison(2), 2);
        foreach (float clip in new[] { (float)norm / 2, (float)norm * 2, 0f })
        {
            k.FinishNorm(d.Stream, dp.View, clip, output.View);
            var r = output.ToArray(d.Stream);
            Assert.Equal(norm, r[0], 4);
            Assert.Equal(clip > 0 && clip < norm ? clip / norm : 1.0, r[1], 5);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void SumScaledIsTheScaledSumAndRepeatsBitForBit(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        var values = TestData.Random(new Random(34), 301, 5f);
        using var dv = d.Upload<float>(values, values.Length);
        using var output = d.Upload<float>(TestData.Poison(1), 1);
        k.SumScaled(d.Stream, dv.View, 0.25f, output.View);
        float first = output.ToArray(d.Stream)[0];
        Assert.Equal(0.25 * values.Sum(v => (double)v), first, 4);
        k.SumScaled(d.Stream, dv.View, 0.25f, output.View);
        Assert.Equal(first, output.ToArray(d.Stream)[0]);
    }
}
