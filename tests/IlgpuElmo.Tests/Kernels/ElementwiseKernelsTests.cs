using IlgpuElmo.Kernels;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Kernels;

public class ElementwiseKernelsTests
{
    static ElementwiseKernels Kernels(ComputeDevice d) => d.Kernels(rt => new ElementwiseKernels(rt));

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void PointwiseOpsMatchTheReference(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        var random = new Random(5);
        float[] x = TestData.Random(random, 37), y = TestData.Random(random, 37), bias = TestData.Random(random, 37 / 37 * 1);
        using var dx = d.Upload<float>(x, 37);
        using var dy = d.Upload<float>(y, 37);
        k.Axpby(d.Stream, 2f, dx.View, -0.5f, dy.View);
        TestData.AssertClose(dy.ToArray(d.Stream), x.Zip(y, (a, b) => 2.0 * a - 0.5 * b).ToArray(), what: "axpby");
        using var poisoned = d.Upload<float>(TestData.Poison(37), 37);
        k.Axpby(d.Stream, 3f, dx.View, 0f, poisoned.View);
        TestData.AssertClose(poisoned.ToArray(d.Stream), x.Select(a => 3.0 * a).ToArray(), what: "axpby beta 0 ignores y");
        k.Copy(d.Stream, dx.View, poisoned.View);
        Assert.Equal(x, poisoned.ToArray(d.Stream));
        k.Fill(d.Stream, poisoned.View, 0.25f);
        Assert.All(poisoned.ToArray(d.Stream), v => Assert.Equal(0.25f, v));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void BiasBroadcastAndColumnSums(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = Kernels(d);
        var random = new Random(6);
        int rows = 5, cols = 7;
        float[] x = TestData.Random(random, rows * cols), bias = TestData.Random(random, cols), prior = TestData.Random(random, cols);
        using var dx = d.Upload<float>(x, rows, cols);
        using var db = d.Upload<float>(bias, cols);
        k.AddRowBias(d.Stream, dx.View, db.View);
        var expected = x.Select((v, i) => (double)v + bias[i % cols]).ToArray();
        TestData.AssertClose(dx.ToArray(d.Stream), expected, what: "add row bias");
        using var sums = d.Upload<float>(prior, cols);
        k.ColumnSums(d.Stream, dx.View, rows, sums.View, beta: 1f);
        var expectedSums = Enumerable.Range(0, cols).Select(c => prior[c] + Enumerable.Range(0, rows).Sum(r => expected[r * cols + c])).ToArray();
        TestData.AssertClose(sums.ToArray(d.Stream), expectedSums, what: "column sums");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ScaleShiftColumnsMatchesTheReference(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(8);
        int rows = 6, cols = 5;
        float[] x = TestData.Random(random, rows * cols), scale = TestData.Random(random, cols), shift = TestData.Random(random, cols);
        using var dx = d.Upload<float>(x, rows, cols);
        using var dscale = d.Upload<float>(scale, cols);
        using var dshift = d.Upload<float>(shift, cols);
        Kernels(d).ScaleShiftColumns(d.Stream, dx.View, dscale.View, dshift.View);
        var expected = x.Select((v, i) => (double)v * scale[i % cols] + shift[i % cols]).ToArray();
        TestData.AssertClose(dx.ToArray(d.Stream), expected, what: "scale and shift columns");
    }

    [Fact]
    public void DropoutMaskIsTheSameInBothModesAndHasTheRightRate()
    {
        int n = 9000; // past two host chunks of 4096, so chunk offsets are checked too
        var x = TestData.Random(new Random(7), n);
        var p = DropoutParams.Create(0.25f, seed: 99, offset: 1000);
        float[][] results = new float[2][];
        foreach (var (mode, slot) in new[] { ("simulate", 0), ("host", 1) })
        {
            var d = TestDevices.Get(mode);
            using var dx = d.Upload<float>(x, n);
            using var dy = d.Upload<float>(TestData.Poison(n), n);
            Kernels(d).Dropout(d.Stream, p, dx.View, dy.View);
            results[slot] = dy.ToArray(d.Stream);
        }
        Assert.Equal(results[0], results[1]);
        int dropped = results[0].Count(v => v == 0f);
        Assert.InRange(dropped, 0.25 * n - 4 * Math.Sqrt(n * 0.1875), 0.25 * n + 4 * Math.Sqrt(n * 0.1875));
        for (int i = 0; i < n; i++)
            if (results[0][i] != 0f) Assert.Equal(x[i] / 0.75, results[0][i], 1e-6 * Math.Abs(x[i]));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void AReplicasShareOfTheStreamsDrawsTheWholeBatchsMasks(string mode)
    {
        // [T, B, W] = [3, 4, 5], as rows [0, 2) and [2, 4) on two replicas: each element keeps its whole-batch mask.
        int steps = 3, batch = 4, width = 5, half = 2;
        var d = TestDevices.Get(mode);
        var x = TestData.Random(new Random(11), steps * batch * width).Select(v => v + 2f).ToArray();
        using var whole = d.Upload<float>(x, x.Length);
        using var wholeOut = d.Upload<float>(TestData.Poison(x.Length), x.Length);
        Kernels(d).Dropout(d.Stream, DropoutParams.Create(0.5f, seed: 3, offset: 77), whole.View, wholeOut.View);
        var expected = wholeOut.ToArray(d.Stream);
        for (int first = 0; first < batch; first += half)
        {
            var share = new float[steps * half * width];
            for (int t = 0; t < steps; t++) Array.Copy(x, (t * batch + first) * width, share, t * half * width, half * width);
            using var input = d.Upload<float>(share, share.Length);
            using var output = d.Upload<float>(TestData.Poison(share.Length), share.Length);
            var rows = new StreamRows(first, half, batch);
            Kernels(d).Dropout(d.Stream, DropoutParams.Create(0.5f, seed: 3, offset: 77, rows, width), input.View, output.View);
            var got = output.ToArray(d.Stream);
            for (int t = 0; t < steps; t++)
                Assert.Equal(expected.AsSpan((t * batch + first) * width, half * width).ToArray(), got.AsSpan(t * half * width, half * width).ToArray());
        }
        Assert.Contains(0f, expected);
        Assert.Contains(expected, v => v != 0f);
    }
}
