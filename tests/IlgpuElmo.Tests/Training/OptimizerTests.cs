using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

public class OptimizerTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void AdagradDenseAndRowSparseMatchTheReferenceAndZeroGradients(string mode) =>
        Run(mode, new OptimizerOptions(OptimizerKind.Adagrad, 0.2f, 1.0f));

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void AdamDenseAndRowSparseMatchTheReferenceAndZeroGradients(string mode) =>
        Run(mode, new OptimizerOptions(OptimizerKind.Adam, 0.01f));

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void AScheduleMultiplierScalesTheLearningRate(string mode) =>
        Run(mode, new OptimizerOptions(OptimizerKind.Adam, 0.01f), learningRateScale: 0.3f);

    static void Run(string mode, OptimizerOptions options, float learningRateScale = 1f)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(21);
        using var dense = Parameter.Create(d, "dense", new Shape(3, 5));
        using var table = Parameter.Create(d, "table", new Shape(6, 4), rowSparse: true);
        float[] w0 = TestData.Random(random, 15), t0 = TestData.Random(random, 24);
        dense.Value.CopyFrom(d.Stream, w0);
        table.Value.CopyFrom(d.Stream, t0);
        using var optimizer = new Optimizer(d, [dense, table], options);
        double[] w = w0.Select(x => (double)x).ToArray(), t = t0.Select(x => (double)x).ToArray();
        double[] s1w = new double[15], s2w = new double[15], s1t = new double[24], s2t = new double[24];
        if (options.Kind == OptimizerKind.Adagrad) { Array.Fill(s1w, 1.0); Array.Fill(s1t, 1.0); }
        using var touched = d.Upload<int>(new[] { 4, 1 }, 2);
        for (int step = 1; step <= 3; step++)
        {
            float[] gw = TestData.Random(random, 15, 3f), gt = new float[24];
            foreach (int row in new[] { 4, 1 })
                for (int c = 0; c < 4; c++) gt[row * 4 + c] = (float)(random.NextDouble() * 4 - 2);
            dense.Gradient.CopyFrom(d.Stream, gw);
            table.Gradient.CopyFrom(d.Stream, gt);
            table.TouchedRows = touched;
            table.TouchedCount = 2;
            double norm = Math.Sqrt(gw.Sum(g => (double)g * g) + gt.Sum(g => (double)g * g));
            Assert.Equal(norm, optimizer.GradientNorm(), 4);
            float scale = GradientClipping.Scale(norm, 5.0);
            optimizer.Step(scale, learningRateScale);
            var scheduled = options with { LearningRate = options.LearningRate * learningRateScale };
            Reference(scheduled, step, scale, w, gw, s1w, s2w, null);
            Reference(scheduled, step, scale, t, gt, s1t, s2t, [4, 1]);
            TestData.AssertClose(dense.Value.ToArray(d.Stream), w, 1e-5, 1e-6, "dense weights");
            TestData.AssertClose(table.Value.ToArray(d.Stream), t, 1e-5, 1e-6, "table weights");
            Assert.All(dense.Gradient.ToArray(d.Stream), g => Assert.Equal(0f, g));
            Assert.All(table.Gradient.ToArray(d.Stream), g => Assert.Equal(0f, g));
            Assert.Equal(t0[0], table.Value.ToArray(d.Stream)[0]); // untouched rows never move
        }
    }

    static void Reference(OptimizerOptions o, int step, double scale, double[] w, float[] grad, double[] s1, double[] s2, int[]? rows)
    {
        int width = rows is null ? w.Length : 4;
        var indices = rows is null ? Enumerable.Range(0, w.Length) : rows.SelectMany(r => Enumerable.Range(r * width, width));
        foreach (int i in indices)
        {
            double g = grad[i] * scale;
            if (o.Kind == OptimizerKind.Adagrad)
            {
                s1[i] += g * g;
                w[i] -= o.LearningRate * g / Math.Sqrt(s1[i]);
            }
            else
            {
                s1[i] = o.Beta1 * s1[i] + (1 - o.Beta1) * g;
                s2[i] = o.Beta2 * s2[i] + (1 - o.Beta2) * g * g;
                double mhat = s1[i] / (1 - Math.Pow(o.Beta1, step)), vhat = s2[i] / (1 - Math.Pow(o.Beta2, step));
                w[i] -= o.LearningRate * mhat / (Math.Sqrt(vhat) + o.Epsilon);
            }
        }
    }

    [Fact]
    public void ClippingScalesOnlyAboveTheThreshold()
    {
        Assert.Equal(1f, GradientClipping.Scale(3, 10));
        Assert.Equal(0.5f, GradientClipping.Scale(20, 10));
        Assert.True(float.IsNaN(GradientClipping.Scale(double.NaN, 10)));
    }
}
