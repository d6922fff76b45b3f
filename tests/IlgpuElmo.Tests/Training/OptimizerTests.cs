using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;

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
        using var scalars = new StepScalars(d);
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
            optimizer.ClipAndStep(5f, scalars.NormAndScale, learningRateScale);
            var read = scalars.Read(d.Stream);
            Assert.Equal(norm, read.GradientNorm, 4);
            double scale = norm > 5 ? 5 / norm : 1;
            Assert.Equal(scale, read.ClipScale, 5);
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

    /// <summary>
    /// Host execution's vectorised updates against the kernels through ILGPU's simulation, bit for bit: a dense
    /// parameter past one host chunk (4096) and a table whose rows are wider than a vector, so vector loops and
    /// scalar tails both run; no clipping (scale exactly 1), two steps.
    /// </summary>
    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Adagrad)]
    public void HostUpdatesEqualTheKernelsBitForBit(OptimizerKind kind)
    {
        var results = new List<float[]>();
        foreach (string mode in new[] { "simulate", "host" })
        {
            var d = TestDevices.Get(mode);
            var random = new Random(22);
            using var dense = Parameter.Create(d, "dense", new Shape(4099));
            using var table = Parameter.Create(d, "table", new Shape(7, 37), rowSparse: true);
            dense.Value.CopyFrom(d.Stream, TestData.Random(random, 4099));
            table.Value.CopyFrom(d.Stream, TestData.Random(random, 7 * 37));
            using var optimizer = new Optimizer(d, [dense, table], new OptimizerOptions(kind, 0.01f, 0.5f));
            using var scalars = new StepScalars(d);
            using var touched = d.Upload<int>(new[] { 5, 2, 6 }, 3);
            for (int step = 0; step < 2; step++)
            {
                dense.Gradient.CopyFrom(d.Stream, TestData.Random(random, 4099, 3f));
                table.Gradient.CopyFrom(d.Stream, TestData.Random(random, 7 * 37, 3f));
                table.TouchedRows = touched;
                table.TouchedCount = 3;
                optimizer.ClipAndStep(0f, scalars.NormAndScale);
                scalars.Read(d.Stream);
            }
            results.Add([.. dense.Value.ToArray(d.Stream), .. table.Value.ToArray(d.Stream)]);
            Assert.All(dense.Gradient.ToArray(d.Stream), g => Assert.Equal(0f, g));
        }
        Assert.Equal(results[0], results[1]);
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
        Assert.Equal(1f, ReductionKernels.ClipScale(3, 10));
        Assert.Equal(0.5f, ReductionKernels.ClipScale(20, 10));
        Assert.Equal(1f, ReductionKernels.ClipScale(20, 0));
        Assert.True(float.IsNaN(ReductionKernels.ClipScale(float.NaN, 10)));
        Assert.True(float.IsNaN(ReductionKernels.ClipScale(float.PositiveInfinity, 10)));
    }

    /// <summary>A gradient that is not finite reaches the host as a NaN norm and scale (the trainer stops on it).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ANonFiniteGradientGivesANaNNormAndScale(string mode)
    {
        var d = TestDevices.Get(mode);
        using var dense = Parameter.Create(d, "dense", new Shape(40));
        var g = TestData.Random(new Random(3), 40);
        g[17] = float.PositiveInfinity;
        dense.Gradient.CopyFrom(d.Stream, g);
        using var optimizer = new Optimizer(d, [dense], new OptimizerOptions());
        using var scalars = new StepScalars(d);
        optimizer.ClipAndStep(1f, scalars.NormAndScale);
        var read = scalars.Read(d.Stream);
        Assert.True(double.IsInfinity(read.GradientNorm) || double.IsNaN(read.GradientNorm));
        Assert.True(double.IsNaN(read.ClipScale));
    }

    /// <summary>The data-parallel seam runs before the norm: a stand-in that sums two identical replicas doubles it.</summary>
    [Fact]
    public void TheAllReduceRunsBeforeTheNorm()
    {
        var d = TestDevices.Host;
        using var dense = Parameter.Create(d, "dense", new Shape(7, 3));
        var g = TestData.Random(new Random(4), 21);
        dense.Gradient.CopyFrom(d.Stream, g);
        var replicas = new TwoIdenticalReplicas(d);
        using var optimizer = new Optimizer(d, [dense], new OptimizerOptions()) { AllReduce = replicas };
        using var scalars = new StepScalars(d);
        optimizer.ClipAndStep(0f, scalars.NormAndScale);
        Assert.Equal(1, replicas.Calls);
        Assert.Equal(2 * Math.Sqrt(g.Sum(x => (double)x * x)), scalars.Read(d.Stream).GradientNorm, 4);
    }

    sealed class TwoIdenticalReplicas(ComputeDevice device) : IGradientAllReduce
    {
        public int Calls { get; private set; }

        public void AllReduce(ILGPU.Runtime.AcceleratorStream stream, IReadOnlyList<Parameter> parameters)
        {
            Calls++;
            var elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
            foreach (var p in parameters) elementwise.Axpby(stream, 1f, p.Gradient.View, 1f, p.Gradient.View);
        }
    }
}
