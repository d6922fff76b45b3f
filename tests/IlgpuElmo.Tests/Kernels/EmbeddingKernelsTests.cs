using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Kernels;

public class EmbeddingKernelsTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void GatherAndScatterAddWithRepeatedIds(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        var random = new Random(8);
        int v = 11, dim = 6;
        int[] ids = [3, 0, 10, 3, 3, 7];
        float[] table = TestData.Random(random, v * dim), grad = TestData.Random(random, ids.Length * dim), prior = TestData.Random(random, v * dim);
        using var dt = d.Upload<float>(table, v, dim);
        using var di = d.Upload<int>(ids, ids.Length);
        using var dout = d.Upload<float>(TestData.Poison(ids.Length * dim), ids.Length, dim);
        k.Gather(d.Stream, dt.View, dim, di.View, dout.View);
        var expected = ids.SelectMany(id => table.Skip(id * dim).Take(dim)).Select(x => (double)x).ToArray();
        TestData.AssertClose(dout.ToArray(d.Stream), expected, what: "gather");

        using var dg = d.Upload<float>(grad, ids.Length, dim);
        using var dtg = d.Upload<float>(prior, v, dim);
        k.ScatterAdd(d.Stream, dg.View, dim, di.View, dtg.View);
        var expectedGrad = prior.Select(x => (double)x).ToArray();
        for (int i = 0; i < ids.Length; i++)
            for (int c = 0; c < dim; c++) expectedGrad[ids[i] * dim + c] += grad[i * dim + c];
        TestData.AssertClose(dtg.ToArray(d.Stream), expectedGrad, what: "scatter-add");
    }

    /// <summary>
    /// Host execution's scatter-add, large enough to split destination rows over the workers, is the float sum
    /// in position order bit for bit (what a single thread computes), with ids repeated many times.
    /// </summary>
    [Fact]
    public void HostScatterAddSplitByRowsIsThePositionOrderSum()
    {
        var d = TestDevices.Host;
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        var random = new Random(10);
        int v = 50, dim = 20, n = 2000;
        int[] ids = Enumerable.Range(0, n).Select(_ => random.Next(v)).ToArray();
        float[] grad = TestData.Random(random, n * dim), table = TestData.Random(random, v * dim);
        using var dg = d.Upload<float>(grad, n, dim);
        using var di = d.Upload<int>(ids, n);
        using var dtg = d.Upload<float>(table, v, dim);
        k.ScatterAdd(d.Stream, dg.View, dim, di.View, dtg.View);
        var expected = (float[])table.Clone();
        for (int i = 0; i < n; i++)
            for (int c = 0; c < dim; c++) expected[ids[i] * dim + c] += grad[i * dim + c];
        Assert.Equal(expected, dtg.ToArray(d.Stream));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void WideGatherMovesWholeRows(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        var random = new Random(9);
        int v = 37, dim = 12;
        int[] ids = [36, 0, 5, 5, 17, 36, 2];
        float[] table = TestData.Random(random, v * dim);
        using var dt = d.Upload<float>(table, v, dim);
        using var di = d.Upload<int>(ids, ids.Length);
        using var dout = d.Upload<float>(TestData.Poison(ids.Length * dim), ids.Length, dim);
        k.Gather(d.Stream, dt.View, dim, di.View, dout.View);
        Assert.Equal(ids.SelectMany(id => table.Skip(id * dim).Take(dim)).ToArray(), dout.ToArray(d.Stream));
    }

    /// <summary>
    /// The quad path is chosen from the views' element offsets in their buffers: a view starting at an odd
    /// element (or a row width that is not whole quads) takes the scalar path, and the gather is right either way.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void QuadsAreChosenFromElementOffsets(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        var random = new Random(10);
        int v = 9, dim = 8;
        int[] ids = [4, 8, 0, 4];
        float[] table = TestData.Random(random, v * dim + 1);
        using var dt = d.Upload<float>(table, v * dim + 1);
        using var di = d.Upload<int>(ids, ids.Length);
        using var dout = d.Upload<float>(TestData.Poison(ids.Length * dim + 4), ids.Length * dim + 4);
        var whole = dt.View.SubView(0, v * dim);
        var odd = dt.View.SubView(1, v * dim);
        var output = dout.View.SubView(4, ids.Length * dim);
        Assert.True(EmbeddingKernels.CanUseQuads(dim, whole, output));
        Assert.False(EmbeddingKernels.CanUseQuads(dim, odd, output));
        Assert.False(EmbeddingKernels.CanUseQuads(dim, whole, dout.View.SubView(2, ids.Length * dim)));
        Assert.False(EmbeddingKernels.CanUseQuads(6, whole.SubView(0, v * 6), dout.View.SubView(0, ids.Length * 6)));
        foreach (var (view, first) in new[] { (whole, 0), (odd, 1) })
        {
            k.Gather(d.Stream, view, dim, di.View, output);
            var expected = ids.SelectMany(id => table.Skip(first + id * dim).Take(dim)).ToArray();
            Assert.Equal(expected, dout.ToArray(d.Stream)[4..]);
        }
    }

    [Fact]
    public void SegmentPlanGroupsPositionsByRowInAscendingOrder()
    {
        int[] ids = [4, 1, 4, 0, 1, 4];
        var counts = new int[6];
        var sorted = new int[6];
        var starts = new int[7];
        var rows = new int[6];
        int segments = EmbeddingKernels.PlanSegments(ids, 5, counts, sorted, starts, rows);
        Assert.Equal(3, segments);
        Assert.Equal([0, 1, 4], rows[..3]);
        Assert.Equal([0, 1, 3, 6], starts[..4]);
        Assert.Equal([3, 1, 4, 0, 2, 5], sorted);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void SegmentedScatterAddIsTheSumInPositionOrder(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        var random = new Random(10);
        int v = 13, dim = 5;
        int[] ids = [12, 3, 3, 0, 12, 3, 7, 3];
        float[] grad = TestData.Random(random, ids.Length * dim), prior = TestData.Random(random, v * dim);
        var counts = new int[v + 1];
        var sorted = new int[ids.Length];
        var starts = new int[ids.Length + 1];
        var rows = new int[ids.Length];
        int segments = EmbeddingKernels.PlanSegments(ids, v, counts, sorted, starts, rows);
        using var dSorted = d.Upload<int>(sorted, sorted.Length);
        using var dStarts = d.Upload<int>(starts, starts.Length);
        using var dRows = d.Upload<int>(rows, rows.Length);
        using var dg = d.Upload<float>(grad, ids.Length, dim);
        using var dtg = d.Upload<float>(prior, v, dim);
        k.SegmentedScatterAdd(d.Stream, dg.View, dim, new SegmentViews(dSorted.View, dStarts.View, dRows.View), segments, dtg.View);
        // Same float32 order as the kernel: positions ascending within a row, then added to the prior.
        var expected = prior.ToArray();
        foreach (int row in rows[..segments])
            for (int c = 0; c < dim; c++)
            {
                float sum = 0f;
                for (int i = 0; i < ids.Length; i++) if (ids[i] == row) sum += grad[i * dim + c];
                expected[row * dim + c] += sum;
            }
        Assert.Equal(expected, dtg.ToArray(d.Stream));
    }
}
