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
}
