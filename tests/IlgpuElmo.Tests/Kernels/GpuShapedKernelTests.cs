using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tests.Linalg;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// The kernels that use groups (tiled GEMM, column sums, softmax row statistics) on CPU accelerators shaped
/// like GPUs (<see cref="GpuShapedDevices"/>), against float64 references at small shapes: the group sizes
/// the launchers pick from the accelerator, not the default CPU device's 16.
/// </summary>
public class GpuShapedKernelTests
{
    [Theory]
    [MemberData(nameof(GpuShapedDevices.Shapes), MemberType = typeof(GpuShapedDevices))]
    public void TiledGemmUsesGpuGroupsAndMatchesFloat64(string shape)
    {
        var device = GpuShapedDevices.Get(shape);
        var kernels = device.Kernels(rt => new GemmKernels(rt));
        Assert.Equal(16, kernels.GroupSide); // 16 x 16 = 256 threads, as on a GPU
        using var gemm = new Gemm(new KernelGemm(kernels, tiled: true));
        var random = new Random(31);
        GemmTests.Check(device, gemm, random, 70, 65, 37, false, false, alpha: 1f, beta: 0f, batch: 1, padA: 1, padB: 0, padC: 2);
        GemmTests.Check(device, gemm, random, 70, 65, 37, true, true, alpha: 1f, beta: 0f, batch: 1, padA: 0, padB: 1, padC: 0);
        GemmTests.Check(device, gemm, random, 65, 9, 130, false, true, alpha: 0.5f, beta: -1f, batch: 2, padA: 0, padB: 3, padC: 1);
    }

    [Theory]
    [MemberData(nameof(GpuShapedDevices.Shapes), MemberType = typeof(GpuShapedDevices))]
    public void ColumnSumsAreBlockReductionsThatMatchFloat64(string shape)
    {
        var device = GpuShapedDevices.Get(shape);
        var kernels = device.Kernels(rt => new ElementwiseKernels(rt));
        Assert.Equal(device.Accelerator.WarpSize, kernels.ColumnTile);
        Assert.Equal(256, kernels.ColumnTile * kernels.ColumnSlices);
        var random = new Random(32);
        // One split (5 rows) and several (300 rows: 3 splits on the NVIDIA shape, 5 on the AMD one), ragged column tiles.
        foreach (var (rows, columns) in new[] { (5, 7), (300, 70) })
        {
            float[] x = TestData.Random(random, (long)rows * columns), prior = TestData.Random(random, columns);
            using var dx = device.Upload<float>(x, rows, columns);
            using var sums = device.Upload<float>(TestData.Poison(columns), columns);
            kernels.ColumnSums(device.Stream, dx.View, rows, sums.View);
            var exact = Enumerable.Range(0, columns).Select(c => Enumerable.Range(0, rows).Sum(r => (double)x[r * columns + c])).ToArray();
            TestData.AssertClose(sums.ToArray(device.Stream), exact, rtol: 1e-5, atol: 1e-5 * Math.Sqrt(rows), what: $"column sums {rows}x{columns}");
            var first = sums.ToArray(device.Stream);
            kernels.ColumnSums(device.Stream, dx.View, rows, sums.View);
            Assert.Equal(first, sums.ToArray(device.Stream)); // a fixed order: the same bits every time

            using var accumulated = device.Upload<float>(prior, columns);
            kernels.ColumnSums(device.Stream, dx.View, rows, accumulated.View, beta: 1f);
            TestData.AssertClose(accumulated.ToArray(device.Stream), exact.Select((v, c) => v + prior[c]).ToArray(),
                rtol: 1e-5, atol: 1e-5 * Math.Sqrt(rows), what: $"column sums with beta {rows}x{columns}");
        }
    }

    [Theory]
    [MemberData(nameof(GpuShapedDevices.Shapes), MemberType = typeof(GpuShapedDevices))]
    public void SoftmaxRowStatisticsMatchFloat64WholeAndChunked(string shape)
    {
        var device = GpuShapedDevices.Get(shape);
        var kernels = device.Kernels(rt => new SoftmaxKernels(rt));
        Assert.Equal(256, kernels.RowGroup);
        var random = new Random(33);
        int rows = 4, classes = 300; // wider than a group: each thread folds two or more columns
        float[] logits = TestData.Random(random, rows * classes, 4f), bias = TestData.Random(random, classes);
        int[] targets = [7, -1, 299, 256];
        var (lse, loss, gradient) = ReferenceRows(logits, bias, targets, classes, scale: 0.5);

        using var dTargets = device.Upload<int>(targets, rows);
        using var dBias = device.Upload<float>(bias, classes);
        var stats = Enumerable.Range(0, 5).Select(_ => device.Upload<float>(TestData.Poison(rows), rows)).ToArray();
        try
        {
            var (max, sum, targetLogit, rowLse, rowLoss) = (stats[0], stats[1], stats[2], stats[3], stats[4]);
            using (var whole = device.Upload<float>(logits, rows, classes))
            {
                var p = new SoftmaxRowParams(rows, classes, classes, 0, classes, HasBias: 1, First: 1, WriteGradient: 1, LossScale: 0.5f);
                kernels.RowStats(device.Stream, p, whole.View, dBias.View, dTargets.View, max.View, sum.View, targetLogit.View, rowLse.View, rowLoss.View);
                TestData.AssertClose(rowLse.ToArray(device.Stream), lse, what: "row log-sum-exp");
                TestData.AssertClose(rowLoss.ToArray(device.Stream), loss, what: "row loss");
                TestData.AssertClose(whole.ToArray(device.Stream), gradient, rtol: 1e-4, atol: 1e-6, what: "gradient in place");
            }
            using (var chunked = device.Upload<float>(logits, rows, classes))
            {
                int split = 137;
                foreach (var (offset, width) in new[] { (0, split), (split, classes - split) })
                {
                    var p = new SoftmaxRowParams(rows, width, classes, offset, classes, HasBias: 1, First: offset == 0 ? 1 : 0, WriteGradient: 0, LossScale: 0.5f);
                    kernels.RowStats(device.Stream, p, chunked.View.SubView(offset, rows * classes - offset), dBias.View, dTargets.View, max.View, sum.View, targetLogit.View, rowLse.View, rowLoss.View);
                }
                var all = new SoftmaxRowParams(rows, classes, classes, 0, classes, HasBias: 1, First: 0, WriteGradient: 0, LossScale: 0.5f);
                kernels.FinishRows(device.Stream, all, dTargets.View, max.View, sum.View, targetLogit.View, rowLse.View, rowLoss.View);
                kernels.Gradient(device.Stream, all, chunked.View, dBias.View, dTargets.View, rowLse.View);
                TestData.AssertClose(rowLse.ToArray(device.Stream), lse, what: "chunked row log-sum-exp");
                TestData.AssertClose(rowLoss.ToArray(device.Stream), loss, what: "chunked row loss");
                TestData.AssertClose(chunked.ToArray(device.Stream), gradient, rtol: 1e-4, atol: 1e-6, what: "chunked gradient");
            }
        }
        finally
        {
            foreach (var t in stats) t.Dispose();
        }
    }

    /// <summary>float64 log-sum-exp, loss (0 for ignored rows) and scale * (softmax - onehot) (0 rows when ignored).</summary>
    static (double[] Lse, double[] Loss, double[] Gradient) ReferenceRows(float[] logits, float[] bias, int[] targets, int classes, double scale)
    {
        int rows = targets.Length;
        var lse = new double[rows];
        var loss = new double[rows];
        var gradient = new double[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            var z = Enumerable.Range(0, classes).Select(c => (double)logits[r * classes + c] + bias[c]).ToArray();
            double max = z.Max();
            lse[r] = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
            int t = targets[r];
            if (t < 0) continue;
            loss[r] = lse[r] - z[t];
            for (int c = 0; c < classes; c++)
                gradient[r * classes + c] = scale * (Math.Exp(z[c] - lse[r]) - (c == t ? 1 : 0));
        }
        return (lse, loss, gradient);
    }
}
