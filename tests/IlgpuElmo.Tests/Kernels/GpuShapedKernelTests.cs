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

    [Theory]
    [MemberData(nameof(GpuShapedDevices.Shapes), MemberType = typeof(GpuShapedDevices))]
    public void SampledSoftmaxRowsMatchFloat64(string shape)
    {
        var device = GpuShapedDevices.Get(shape);
        var kernels = device.Kernels(rt => new SoftmaxKernels(rt));
        var random = new Random(34);
        int rows = 3, samples = 300, hidden = 40, touched = samples + 1;
        // Row 0's target is the touched row after the samples, row 1 is ignored, row 2's target is sample 5 (an accidental hit).
        int[] rowTouched = [samples, -1, 5], hit = [-1, -1, 5];
        float[] h = TestData.Random(random, rows * hidden), w = TestData.Random(random, touched * hidden), b = TestData.Random(random, touched);
        float[] sampleLogQ = TestData.Random(random, samples), trueLogQ = TestData.Random(random, rows);
        var logits = new float[rows * samples];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < samples; j++)
                logits[r * samples + j] = (float)Enumerable.Range(0, hidden).Sum(k => (double)h[r * hidden + k] * w[j * hidden + k]);

        var expectedLoss = new double[rows];
        var expectedTrueGrad = new double[rows];
        var expectedGrad = new double[rows * samples];
        const double scale = 0.25;
        for (int r = 0; r < rows; r++)
        {
            int u = rowTouched[r];
            if (u < 0) continue;
            double trueLogit = Enumerable.Range(0, hidden).Sum(k => (double)h[r * hidden + k] * w[u * hidden + k]) + b[u] - trueLogQ[r];
            var z = Enumerable.Range(0, samples).Select(j => (double)logits[r * samples + j] + b[j] - sampleLogQ[j]).ToArray();
            var kept = z.Where((_, j) => j != hit[r]).Append(trueLogit).ToArray();
            double max = kept.Max(), lse = max + Math.Log(kept.Sum(v => Math.Exp(v - max)));
            expectedLoss[r] = lse - trueLogit;
            expectedTrueGrad[r] = scale * (Math.Exp(trueLogit - lse) - 1);
            for (int j = 0; j < samples; j++) expectedGrad[r * samples + j] = j == hit[r] ? 0 : scale * Math.Exp(z[j] - lse);
        }

        using var dLogits = device.Upload<float>(logits, rows, samples);
        using var dHidden = device.Upload<float>(h, rows, hidden);
        using var dW = device.Upload<float>(w, touched, hidden);
        using var dB = device.Upload<float>(b, touched);
        using var dRowTouched = device.Upload<int>(rowTouched, rows);
        using var dHit = device.Upload<int>(hit, rows);
        using var dSampleLogQ = device.Upload<float>(sampleLogQ, samples);
        using var dTrueLogQ = device.Upload<float>(trueLogQ, rows);
        using var loss = device.Upload<float>(TestData.Poison(rows), rows);
        using var trueGrad = device.Upload<float>(TestData.Poison(rows), rows);
        var p = new SampledRowParams(rows, samples, hidden, touched, WriteGradient: 1, LossScale: (float)scale);
        kernels.SampledRows(device.Stream, p, dLogits.View, dHidden.View, dW.View, dB.View, dRowTouched.View, dHit.View,
            dSampleLogQ.View, dTrueLogQ.View, loss.View, trueGrad.View);
        TestData.AssertClose(loss.ToArray(device.Stream), expectedLoss, what: "sampled loss");
        TestData.AssertClose(trueGrad.ToArray(device.Stream), expectedTrueGrad, what: "true-class gradient");
        TestData.AssertClose(dLogits.ToArray(device.Stream), expectedGrad, rtol: 1e-4, atol: 1e-7, what: "sampled gradient in place");
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
