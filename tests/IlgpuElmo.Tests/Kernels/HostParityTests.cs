using System.Reflection;
using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using Xunit.Abstractions;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// Every kernel that has a host body (kernels/IlgpuElmo.Kernels/Host/) run twice on the same random inputs:
/// through ILGPU's simulation of the kernel, and as host execution's body. Each output is compared bit for
/// bit, or within the ulp bound written beside it with the reason (vectorised transcendental functions, or
/// sums taken in another order). Sums whose order differs get inputs of one sign, so a bound in ulps of the
/// result means something (with cancellation no relative bound holds for either order).
/// <see cref="EveryHostBodyHasACase"/> keeps the list complete.
/// </summary>
public class HostParityTests(ITestOutputHelper log)
{
    /// <summary>
    /// TensorPrimitives' vectorised exp, sigmoid and tanh against KernelMath's scalar ones: each a
    /// few ulps from the true value, so a few apart, and a little more after the arithmetic that follows.
    /// </summary>
    const int VectorMathUlps = 16;

    /// <summary>
    /// One output of a run, its bound in ulps (0: bit-equal) with the reason, and a floor where its terms cancel:
    /// then ulps are counted at the larger of the result's and the floor's magnitude (see <see cref="Ulps"/>).
    /// </summary>
    public sealed record Output(string Name, float[] Values, int MaxUlps = 0, string Why = "bit-equal: the same operations in the same order", float Floor = 0f);

    sealed record Case(string HostBody, Func<ComputeDevice, Output[]> Run);

    static readonly Case[] Cases =
    [
        new("LstmHost.CellForward", LstmCellForward),
        new("LstmHost.ProjectionForward", LstmProjectionForward),
        new("LstmHost.ProjectionBackward", LstmProjectionBackward),
        new("LstmHost.CellBackward", LstmCellBackward),
        new("CharCnnHost.Windows", CharCnnWindows),
        new("CharCnnHost.MaxPool", CharCnnMaxPool),
        new("CharCnnHost.LeadingWindows", CharCnnLeadingWindows),
        new("CharCnnHost.MaxPoolLeading", CharCnnMaxPoolLeading),
        new("CharCnnHost.MaxPoolBackward", CharCnnMaxPoolBackward),
        new("CharCnnHost.WindowsBackward", CharCnnWindowsBackward),
        new("CharCnnHost.ConvWeightGradient", CharCnnConvWeightGradient),
        new("CharCnnHost.ConvInputGradient", CharCnnConvInputGradient),
        new("CharCnnHost.EmbeddingGradient", CharEmbeddingGradient),
        new("CharCnnHost.HighwayForward", HighwayForward),
        new("CharCnnHost.HighwayBackward", HighwayBackward),
        new("OptimizerHost.Adam", d => Optimizer(d, OptimizerUpdate.Adam)),
        new("OptimizerHost.Adagrad", d => Optimizer(d, OptimizerUpdate.Adagrad)),
        new("SoftmaxHost.RowStats", SoftmaxRowStats),
        new("SoftmaxHost.SampledRows", SoftmaxSampledRows),
        new("ReductionHost.SquaredBlocks", SquaredBlocks),
        new("ReductionHost.SquaredRowBlocks", SquaredRowBlocks),
        new("ReductionHost.FinishNorm", FinishNorm),
        new("ReductionHost.SumScaled", SumScaled),
        new("EmbeddingHost.ScatterAdd", ScatterAdd),
        new("EmbeddingHost.SegmentedScatterAdd", SegmentedScatterAdd),
        new("ElementwiseHost.Fill", Fill),
        new("ElementwiseHost.Copy", Copy),
        new("ElementwiseHost.Axpby", Axpby),
        new("ElementwiseHost.ColumnSums", ColumnSums),
        new("ElementwiseHost.Dropout", Dropout),
        new(HostGemmBody, Gemm),
        new("NarrowSoftmaxHost.Rows", NarrowSoftmaxRows),
        new("NarrowSoftmaxHost.WeightGradient", NarrowSoftmaxWeightGradient),
    ];

    /// <summary>The GEMM's host body is a backend class of its own (<see cref="HostGemm"/>), not a static *Host method.</summary>
    const string HostGemmBody = "HostGemm.Run";

    public static TheoryData<string> HostBodies => new(Cases.Select(c => c.HostBody));

    [Theory]
    [MemberData(nameof(HostBodies))]
    public void HostBodyMatchesTheSimulatedKernel(string hostBody)
    {
        var run = Cases.Single(c => c.HostBody == hostBody).Run;
        var simulated = run(TestDevices.Simulated);
        var host = run(TestDevices.Host);
        Assert.Equal(simulated.Select(o => o.Name), host.Select(o => o.Name));
        var failures = new List<string>();
        for (int k = 0; k < simulated.Length; k++)
        {
            var (expected, actual) = (simulated[k], host[k]);
            Assert.Equal(expected.Values.Length, actual.Values.Length);
            double worst = 0;
            int at = 0;
            for (int i = 0; i < expected.Values.Length; i++)
            {
                Assert.False(float.IsNaN(expected.Values[i]), $"{hostBody} {expected.Name}[{i}] is NaN: an output element was not written");
                double ulps = Ulps(expected.Values[i], actual.Values[i], expected.Floor);
                if (ulps > worst) (worst, at) = (ulps, i);
            }
            string line = $"{expected.Name}: {worst:G3} ulps{(expected.Floor > 0 ? $" of {expected.Floor}" : "")} apart at [{at}] " +
                $"(simulated {expected.Values[at]:R}, host {actual.Values[at]:R}); the bound is {expected.MaxUlps} ({expected.Why})";
            log.WriteLine(line);
            if (worst > expected.MaxUlps) failures.Add(line);
        }
        Assert.True(failures.Count == 0, $"{hostBody}:\n" + string.Join("\n", failures));
    }

    /// <summary>Every public static method of a Host/ *Host class is a host body, and each has a case above (and no case is stale).</summary>
    [Fact]
    public void EveryHostBodyHasACase()
    {
        var bodies = typeof(KernelRuntime).Assembly.GetTypes()
            .Where(t => t.IsAbstract && t.IsSealed && t.Name.EndsWith("Host", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly).Select(m => $"{t.Name}.{m.Name}"))
            .Append(HostGemmBody)
            .Distinct().Order().ToArray();
        Assert.Contains("LstmHost.CellBackward", bodies);
        Assert.Equal(bodies, Cases.Select(c => c.HostBody).Order().ToArray());
        Assert.True(typeof(IGemmBackend).IsAssignableFrom(typeof(HostGemm)));
    }

    /// <summary>Host bodies live only in Host/: no file of Device/ (the ILGPU kernels) holds vector or host-only maths.</summary>
    [Fact]
    public void DeviceFolderHoldsNoHostBody()
    {
        string device = Path.Combine(Repository.Root, "kernels", "IlgpuElmo.Kernels", "Device");
        string[] hostOnly = ["TensorPrimitives", "Vector<", "Vector128", "Vector256", "Vector512", "MathF.", "stackalloc"];
        var found = Directory.GetFiles(device, "*.cs")
            .SelectMany(file => File.ReadLines(file).Select((line, i) => (file, line: line.Trim(), i)))
            .Where(x => !x.line.StartsWith("//", StringComparison.Ordinal) && hostOnly.Any(x.line.Contains))
            .Select(x => $"{Path.GetFileName(x.file)}:{x.i + 1}: {x.line}").ToArray();
        Assert.True(found.Length == 0, string.Join("\n", found));
    }

    /// <summary>
    /// |a - b| in units in the last place of the larger of |a|, |b| and <paramref name="floor"/>: with floor 0 plain
    /// ulps of the result; an output whose terms cancel gives the terms' magnitude as its floor. NaN only equals NaN.
    /// </summary>
    static double Ulps(float a, float b, float floor)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : double.PositiveInfinity;
        if (a == b) return 0;
        float scale = MathF.Max(floor, MathF.Max(MathF.Abs(a), MathF.Abs(b)));
        return Math.Abs((double)a - b) / (MathF.BitIncrement(scale) - scale);
    }

    /// <summary>Uniform in [0.1, scale]: one sign, for sums taken in another order.</summary>
    static float[] Positive(Random random, int n, float scale = 1f) => TestData.Random(random, n, scale).Select(MathF.Abs).ToArray();

    static float[] Read(ComputeDevice d, DeviceTensor<float> t) => t.ToArray(d.Stream);

    static float[] Read(ComputeDevice d, DeviceTensor<int> t) => t.ToArray(d.Stream).Select(v => (float)v).ToArray();

    // ------------------------------------------------------------------------------------------------ LSTM

    // B = 4 rows at step 2, rows 1 and 3 padding; H = 19 and P = 21 give a vector and a scalar tail on the host.
    const int B = 4, H = 19, P = 21;
    static readonly int[] Lengths = [5, 2, 3, 0];
    static readonly LstmStepParams Step = new(B, H, P, Step: 2, CellClip: 1.5f, ProjectionClip: 1f, ForgetBias: 1f);

    static Output[] LstmCellForward(ComputeDevice d)
    {
        var random = new Random(1);
        var k = d.Kernels(rt => new LstmKernels(rt));
        using var gates = d.Upload<float>(TestData.Random(random, B * 4 * H, 2f), B, 4 * H);
        using var bias = d.Upload<float>(TestData.Random(random, 4 * H, 0.5f), 4 * H);
        using var lengths = d.Upload<int>(Lengths, B);
        using var previous = d.Upload<float>(TestData.Random(random, B * H, 2f), B, H);
        using var cell = d.Upload<float>(TestData.Poison(B * H), B, H);
        using var cellOutput = d.Upload<float>(TestData.Poison(B * H), B, H);
        k.CellForward(d.Stream, Step, gates.View, bias.View, lengths.View, previous.View, cell.View, cellOutput.View);
        const string why = "sigmoid and tanh vectorised on the host (TensorPrimitives), KernelMath's in the kernel";
        const string cancels = why + "; f c_{t-1} + i j cancels, so ulps of its terms (order 1)";
        return [new("gates", Read(d, gates), VectorMathUlps, why), new("cell", Read(d, cell), 4, cancels, Floor: 1f),
            new("cellOutput", Read(d, cellOutput), 4, cancels, Floor: 1f)];
    }

    static Output[] LstmProjectionForward(ComputeDevice d)
    {
        var random = new Random(2);
        var k = d.Kernels(rt => new LstmKernels(rt));
        using var projection = d.Upload<float>(TestData.Random(random, B * P, 2f), B, P);
        using var lengths = d.Upload<int>(Lengths, B);
        using var previous = d.Upload<float>(TestData.Random(random, B * P), B, P);
        using var state = d.Upload<float>(TestData.Poison(B * P), B, P);
        using var output = d.Upload<float>(TestData.Poison(B * P), B, P);
        k.ProjectionForward(d.Stream, Step, projection.View, lengths.View, previous.View, state.View, output.View);
        return [new("state", Read(d, state)), new("output", Read(d, output))];
    }

    static Output[] LstmProjectionBackward(ComputeDevice d)
    {
        var random = new Random(3);
        var k = d.Kernels(rt => new LstmKernels(rt));
        using var projection = d.Upload<float>(TestData.Random(random, B * P, 2f), B, P);
        using var lengths = d.Upload<int>(Lengths, B);
        using var outputGradient = d.Upload<float>(TestData.Random(random, B * P), B, P);
        using var stateGradient = d.Upload<float>(TestData.Random(random, B * P), B, P);
        using var projectionGradient = d.Upload<float>(TestData.Poison(B * P), B, P);
        k.ProjectionBackward(d.Stream, Step, projection.View, lengths.View, outputGradient.View, stateGradient.View, projectionGradient.View);
        return [new("stateGradient", Read(d, stateGradient)), new("projectionGradient", Read(d, projectionGradient))];
    }

    static Output[] LstmCellBackward(ComputeDevice d)
    {
        var random = new Random(4);
        var k = d.Kernels(rt => new LstmKernels(rt));
        var (activations, previous, cell) = LstmKernelsTests.SavedCell(random, B, H, Step.CellClip);
        using var gates = d.Upload<float>(activations, B, 4 * H);
        using var lengths = d.Upload<int>(Lengths, B);
        using var cellPrevious = d.Upload<float>(previous, B, H);
        using var cellSaved = d.Upload<float>(cell, B, H);
        using var cellOutputGradient = d.Upload<float>(TestData.Random(random, B * H), B, H);
        using var cellGradient = d.Upload<float>(TestData.Random(random, B * H), B, H);
        using var gateGradient = d.Upload<float>(TestData.Poison(B * 4 * H), B, 4 * H);
        k.CellBackward(d.Stream, Step, gates.View, lengths.View, cellPrevious.View, cellSaved.View, cellOutputGradient.View, cellGradient.View,
            gateGradient.View);
        const string why = "tanh(c_t) vectorised on the host (TensorPrimitives), KernelMath's in the kernel; dL/dc_t's two terms cancel, so ulps of the terms (order 1)";
        return [new("gateGradient", Read(d, gateGradient), 4, why, Floor: 1f), new("cellGradient", Read(d, cellGradient), 4, why, Floor: 1f)];
    }

    // ------------------------------------------------------------------------------------------------ char CNN

    // Nf = 19 filters: a vector and a scalar tail on the host; the group sits at column 1 of 21.
    static readonly CharConvParams Conv = new(Tokens: 3, MaxChars: 9, EmbedDim: 5, Width: 3, Filters: 19, ColumnOffset: 1, TotalFilters: 21, CharCnnKernels.Relu);

    static Output[] CharCnnWindows(ComputeDevice d)
    {
        var random = new Random(5);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        using var ids = d.Upload<int>(Enumerable.Range(0, Conv.Tokens * Conv.MaxChars).Select(_ => random.Next(7)).ToArray(), Conv.Tokens, Conv.MaxChars);
        using var embed = d.Upload<float>(TestData.Random(random, 7 * Conv.EmbedDim), 7, Conv.EmbedDim);
        using var windows = d.Upload<float>(TestData.Poison(Conv.Tokens * Conv.Positions * Conv.Width * Conv.EmbedDim), Conv.Tokens * Conv.Positions, Conv.Width * Conv.EmbedDim);
        k.Windows(d.Stream, Conv, ids.View, embed.View, windows.View);
        return [new("windows", Read(d, windows))];
    }

    static Output[] CharCnnMaxPool(ComputeDevice d)
    {
        var random = new Random(6);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var outputs = new List<Output>();
        foreach (int activation in new[] { CharCnnKernels.Relu, CharCnnKernels.Tanh })
        {
            using var conv = d.Upload<float>(TestData.Random(random, Conv.Tokens * Conv.Positions * Conv.Filters), Conv.Tokens * Conv.Positions, Conv.Filters);
            using var bias = d.Upload<float>(TestData.Random(random, Conv.Filters), Conv.Filters);
            using var output = d.Upload<float>(TestData.Random(random, Conv.Tokens * Conv.TotalFilters), Conv.Tokens, Conv.TotalFilters);
            using var argmax = d.Upload<int>(Enumerable.Repeat(-1, Conv.Tokens * Conv.TotalFilters).ToArray(), Conv.Tokens, Conv.TotalFilters);
            k.MaxPool(d.Stream, Conv with { Activation = activation }, conv.View, bias.View, output.View, argmax.View);
            outputs.Add(activation == CharCnnKernels.Tanh
                ? new("tanh output", Read(d, output), 4, "tanh vectorised on the host (TensorPrimitives), KernelMath's in the kernel: " +
                    "TensorPrimitives' tanh is accurate near 0 in ulps of 1, not of its result", Floor: 1f)
                : new("relu output", Read(d, output)));
            outputs.Add(new($"argmax {activation}", Read(d, argmax)));
        }
        return [.. outputs];
    }

    /// <summary>Words of 0-6 characters then padding (id 6), so tokens keep different numbers of leading windows.</summary>
    static (int[] Ids, int[] Starts, int Rows) LeadingRows()
    {
        var random = new Random(25);
        var ids = new int[Conv.Tokens * Conv.MaxChars];
        var starts = new int[Conv.Tokens + 1];
        for (int tok = 0; tok < Conv.Tokens; tok++)
        {
            int length = random.Next(7);
            for (int c = 0; c < Conv.MaxChars; c++) ids[tok * Conv.MaxChars + c] = c < length ? random.Next(6) : 6;
            starts[tok + 1] = starts[tok] + Math.Min(length + 1, Conv.Positions);
        }
        return (ids, starts, starts[^1]);
    }

    static Output[] CharCnnLeadingWindows(ComputeDevice d)
    {
        var (ids, starts, rows) = LeadingRows();
        var random = new Random(26);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        using var dIds = d.Upload<int>(ids, Conv.Tokens, Conv.MaxChars);
        using var embed = d.Upload<float>(TestData.Random(random, 7 * Conv.EmbedDim), 7, Conv.EmbedDim);
        using var dStarts = d.Upload<int>(starts, starts.Length);
        using var windows = d.Upload<float>(TestData.Poison(rows * Conv.Width * Conv.EmbedDim), rows, Conv.Width * Conv.EmbedDim);
        k.LeadingWindows(d.Stream, Conv, dIds.View, embed.View, dStarts.View, windows.View);
        return [new("windows", Read(d, windows))];
    }

    static Output[] CharCnnMaxPoolLeading(ComputeDevice d)
    {
        var (_, starts, rows) = LeadingRows();
        var random = new Random(27);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        using var dStarts = d.Upload<int>(starts, starts.Length);
        using var conv = d.Upload<float>(TestData.Random(random, rows * Conv.Filters), rows, Conv.Filters);
        using var bias = d.Upload<float>(TestData.Random(random, Conv.Filters), Conv.Filters);
        using var output = d.Upload<float>(TestData.Random(random, Conv.Tokens * Conv.TotalFilters), Conv.Tokens, Conv.TotalFilters);
        using var argmax = d.Upload<int>(Enumerable.Repeat(-1, Conv.Tokens * Conv.TotalFilters).ToArray(), Conv.Tokens, Conv.TotalFilters);
        k.MaxPoolLeading(d.Stream, Conv, dStarts.View, conv.View, bias.View, output.View, argmax.View);
        return [new("relu output", Read(d, output)), new("argmax", Read(d, argmax))];
    }

    static Output[] CharCnnMaxPoolBackward(ComputeDevice d)
    {
        var random = new Random(7);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        int cells = Conv.Tokens * Conv.TotalFilters;
        using var argmax = d.Upload<int>(Enumerable.Range(0, cells).Select(_ => random.Next(Conv.Positions)).ToArray(), Conv.Tokens, Conv.TotalFilters);
        using var gradPre = d.Upload<float>(TestData.Random(random, cells), Conv.Tokens, Conv.TotalFilters);
        using var gradConv = d.Upload<float>(TestData.Poison(Conv.Tokens * Conv.Positions * Conv.Filters), Conv.Tokens * Conv.Positions, Conv.Filters);
        k.MaxPoolBackward(d.Stream, Conv, argmax.View, gradPre.View, gradConv.View);
        return [new("gradConv", Read(d, gradConv))];
    }

    static Output[] CharCnnWindowsBackward(ComputeDevice d)
    {
        var random = new Random(8);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        using var gradWindows = d.Upload<float>(TestData.Random(random, Conv.Tokens * Conv.Positions * Conv.Width * Conv.EmbedDim),
            Conv.Tokens * Conv.Positions, Conv.Width * Conv.EmbedDim);
        using var gradEmbedded = d.Upload<float>(TestData.Random(random, Conv.Tokens * Conv.MaxChars * Conv.EmbedDim), Conv.Tokens, Conv.MaxChars, Conv.EmbedDim);
        k.WindowsBackward(d.Stream, Conv, gradWindows.View, gradEmbedded.View);
        return [new("gradEmbedded", Read(d, gradEmbedded))];
    }

    /// <summary>Gradients with relu's zeros; 400 tokens, so the host splits the work between workers.</summary>
    static (CharConvParams P, int[] Ids, float[] Embed, int[] Argmax, float[] GradPre) ArgmaxWindows(int seed)
    {
        var random = new Random(seed);
        var p = Conv with { Tokens = 400 };
        var ids = Enumerable.Range(0, p.Tokens * p.MaxChars).Select(_ => random.Next(7)).ToArray();
        var argmax = Enumerable.Range(0, p.Tokens * p.TotalFilters).Select(_ => random.Next(p.Positions)).ToArray();
        var gradPre = TestData.Random(random, p.Tokens * p.TotalFilters);
        for (int i = 0; i < gradPre.Length; i += 4) gradPre[i] = 0f;
        return (p, ids, TestData.Random(random, 7 * p.EmbedDim), argmax, gradPre);
    }

    static Output[] CharCnnConvWeightGradient(ComputeDevice d)
    {
        var (p, ids, embed, argmax, gradPre) = ArgmaxWindows(21);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        using var dIds = d.Upload<int>(ids, p.Tokens, p.MaxChars);
        using var dEmbed = d.Upload<float>(embed, 7, p.EmbedDim);
        using var dArgmax = d.Upload<int>(argmax, p.Tokens, p.TotalFilters);
        using var dGradPre = d.Upload<float>(gradPre, p.Tokens, p.TotalFilters);
        using var weightGrad = d.Upload<float>(TestData.Random(new Random(22), p.Width * p.EmbedDim * p.Filters), p.Width * p.EmbedDim, p.Filters);
        k.ConvWeightGradient(d.Stream, p, dIds.View, dEmbed.View, dArgmax.View, dGradPre.View, weightGrad.View);
        return [new("weightGrad", Read(d, weightGrad))];
    }

    static Output[] CharCnnConvInputGradient(ComputeDevice d)
    {
        var (p, _, _, argmax, gradPre) = ArgmaxWindows(23);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(24);
        using var dArgmax = d.Upload<int>(argmax, p.Tokens, p.TotalFilters);
        using var dGradPre = d.Upload<float>(gradPre, p.Tokens, p.TotalFilters);
        using var weight = d.Upload<float>(TestData.Random(random, p.Width * p.EmbedDim * p.Filters), p.Width * p.EmbedDim, p.Filters);
        using var gradEmbedded = d.Upload<float>(TestData.Random(random, p.Tokens * p.MaxChars * p.EmbedDim), p.Tokens * p.MaxChars, p.EmbedDim);
        k.ConvInputGradient(d.Stream, p, dArgmax.View, dGradPre.View, weight.View, gradEmbedded.View);
        return [new("gradEmbedded", Read(d, gradEmbedded))];
    }

    /// <summary>Words as the char mapper writes them (mostly padding) and a padding token; gradients of one sign (the two sum in different orders).</summary>
    static Output[] CharEmbeddingGradient(ComputeDevice d)
    {
        var random = new Random(20);
        const int tokens = 6, chars = 10, dim = 7, rows = 12, pad = 11;
        var ids = new int[tokens * chars];
        for (int tok = 0; tok < tokens - 1; tok++)
        {
            int length = 1 + random.Next(chars - 3);
            for (int c = 0; c < chars; c++) ids[tok * chars + c] = c <= length ? 1 + random.Next(9) : pad;
        }
        using var dIds = d.Upload<int>(ids, tokens, chars);
        using var gradient = d.Upload<float>(Positive(random, tokens * chars * dim), tokens * chars, dim);
        using var table = d.Upload<float>(Positive(random, rows * dim), rows, dim);
        d.Kernels(rt => new CharCnnKernels(rt)).EmbeddingGradient(d.Stream, new CharEmbeddingParams(tokens, chars, dim, pad), dIds.View, gradient.View, table.View);
        return [new("tableGrad", Read(d, table), 8, "positions added in token and position order on the host, in the atomics' arrival order in the kernel")];
    }

    const int HighwayRows = 3, Features = 21;

    static Output[] HighwayForward(ComputeDevice d)
    {
        var random = new Random(9);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        int n = HighwayRows * Features;
        using var x = d.Upload<float>(TestData.Random(random, n), HighwayRows, Features);
        using var carry = d.Upload<float>(TestData.Random(random, n, 2f), HighwayRows, Features);
        using var transform = d.Upload<float>(TestData.Random(random, n), HighwayRows, Features);
        using var carryBias = d.Upload<float>(TestData.Random(random, Features), Features);
        using var transformBias = d.Upload<float>(TestData.Random(random, Features), Features);
        using var gate = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        using var relu = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        using var y = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        k.HighwayForward(d.Stream, Features, new HighwayViews(x.View, carry.View, transform.View, carryBias.View, transformBias.View, gate.View, relu.View, y.View));
        const string why = "the gate's sigmoid vectorised on the host (TensorPrimitives), KernelMath's in the kernel";
        return [new("gate", Read(d, gate), VectorMathUlps, why), new("transform", Read(d, relu)),
            new("y", Read(d, y), 4, why + "; t transform + (1 - t) x cancels, so ulps of its terms (order 1)", Floor: 1f)];
    }

    static Output[] HighwayBackward(ComputeDevice d)
    {
        var random = new Random(10);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        int n = HighwayRows * Features;
        using var x = d.Upload<float>(TestData.Random(random, n), HighwayRows, Features);
        using var carry = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        using var transformPre = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        using var bias = d.Upload<float>(TestData.Random(random, Features), Features);
        using var gate = d.Upload<float>(Positive(random, n, 0.9f), HighwayRows, Features);
        using var transform = d.Upload<float>(TestData.Random(random, n).Select(v => MathF.Max(v, 0f)).ToArray(), HighwayRows, Features);
        using var dy = d.Upload<float>(TestData.Random(random, n), HighwayRows, Features);
        using var gradX = d.Upload<float>(TestData.Poison(n), HighwayRows, Features);
        k.HighwayBackward(d.Stream, Features, new HighwayViews(x.View, carry.View, transformPre.View, bias.View, bias.View, gate.View, transform.View, dy.View),
            gradX.View);
        return [new("dCarryPre", Read(d, carry)), new("dTransformPre", Read(d, transformPre)), new("gradX", Read(d, gradX))];
    }

    // ------------------------------------------------------------------------------------------------ optimizers

    enum OptimizerUpdate { Adam, Adagrad }

    /// <summary>A dense parameter of two host chunks and a tail, and three touched rows of a table: both launchers of the update.</summary>
    static Output[] Optimizer(ComputeDevice d, OptimizerUpdate update)
    {
        var random = new Random(11);
        var k = d.Kernels(rt => new OptimizerKernels(rt));
        var step = new OptimizerStep(0.01f, 0.9f, 0.999f, 1e-8f, 1f - MathF.Pow(0.9f, 3), 1f - MathF.Pow(0.999f, 3));
        var outputs = new List<Output>();
        foreach (bool rows in new[] { false, true })
        {
            int n = rows ? 10 * 13 : 2 * 4096 + 37;
            using var weight = d.Upload<float>(TestData.Random(random, n), n);
            using var grad = d.Upload<float>(TestData.Random(random, n), n);
            using var first = d.Upload<float>(update == OptimizerUpdate.Adam ? TestData.Random(random, n, 0.1f) : Positive(random, n), n);
            using var second = d.Upload<float>(Positive(random, n, 0.01f), n);
            using var scale = d.Upload<float>([0.75f], 1);
            using var ids = d.Upload<int>([7, 2, 9], 3);
            var touched = new RowSet(ids.View, 3, 13);
            switch (update, rows)
            {
                case (OptimizerUpdate.Adam, false): k.Adam(d.Stream, step, weight.View, grad.View, first.View, second.View, scale.View); break;
                case (OptimizerUpdate.Adam, true): k.AdamRows(d.Stream, step, touched, weight.View, grad.View, first.View, second.View, scale.View); break;
                case (OptimizerUpdate.Adagrad, false): k.Adagrad(d.Stream, step, weight.View, grad.View, first.View, scale.View); break;
                default: k.AdagradRows(d.Stream, step, touched, weight.View, grad.View, first.View, scale.View); break;
            }
            string which = rows ? "rows" : "dense";
            outputs.Add(new($"{which} weight", Read(d, weight)));
            outputs.Add(new($"{which} grad", Read(d, grad)));
            outputs.Add(new($"{which} accumulator", Read(d, first)));
            if (update == OptimizerUpdate.Adam) outputs.Add(new($"{which} v", Read(d, second)));
        }
        return [.. outputs];
    }

    // ------------------------------------------------------------------------------------------------ softmax

    /// <summary>
    /// A whole-row chunk with the gradient written (rows with targets in the chunk, outside it and ignored), then a
    /// second chunk merged into running stats.
    /// </summary>
    static Output[] SoftmaxRowStats(ComputeDevice d)
    {
        var random = new Random(12);
        var k = d.Kernels(rt => new SoftmaxKernels(rt));
        int rows = 6, columns = 37, ld = 40, offset = 3, classes = 50;
        int[] targetIds = [3, 20, 39, 45, -1, 7];
        using var logits = d.Upload<float>(TestData.Random(random, rows * ld, 3f), rows, ld);
        using var bias = d.Upload<float>(TestData.Random(random, classes), classes);
        using var targets = d.Upload<int>(targetIds, rows);
        using var rowMax = d.Upload<float>(TestData.Poison(rows), rows);
        using var rowSum = d.Upload<float>(TestData.Poison(rows), rows);
        using var targetLogit = d.Upload<float>(TestData.Random(random, rows), rows);
        using var rowLse = d.Upload<float>(TestData.Poison(rows), rows);
        using var rowLoss = d.Upload<float>(TestData.Poison(rows), rows);
        var whole = new SoftmaxRowParams(rows, columns, ld, offset, classes, HasBias: 1, First: 1, WriteGradient: 1, LossScale: 0.5f);
        k.RowStats(d.Stream, whole, logits.View, bias.View, targets.View, rowMax.View, rowSum.View, targetLogit.View, rowLse.View, rowLoss.View);
        const string sums = "the row's exponentials by TensorPrimitives' vectorised exp (KernelMath's in the kernel) and summed in index order (a tree there)";
        var outputs = new List<Output>
        {
            new("rowMax", Read(d, rowMax)),
            new("rowSum", Read(d, rowSum), 8, sums),
            new("targetLogit", Read(d, targetLogit)),
            new("rowLse", Read(d, rowLse), 4, "log of the row sum above: its ulps shrink by the log"),
            new("rowLoss", Read(d, rowLoss), 8, "lse minus the target's logit, with lse's error above"),
            new("gradient", Read(d, logits), 24, "exp(x - lse) as the row's vectorised exp(x - max) rescaled by exp(max - lse), with the row sum's error"),
        };

        using var chunk = d.Upload<float>(TestData.Random(random, rows * ld, 3f), rows, ld);
        using var priorMax = d.Upload<float>(TestData.Random(random, rows, 3f), rows);
        using var priorSum = d.Upload<float>(Positive(random, rows, 30f), rows);
        var merged = whole with { First = 0, WriteGradient = 0 };
        k.RowStats(d.Stream, merged, chunk.View, bias.View, targets.View, priorMax.View, priorSum.View, targetLogit.View, rowLse.View, rowLoss.View);
        outputs.Add(new("merged rowMax", Read(d, priorMax)));
        outputs.Add(new("merged rowSum", Read(d, priorSum), 8, sums + "; the merge's exp is MathF's on the host, KernelMath's in the kernel"));
        return [.. outputs];
    }

    static Output[] SoftmaxSampledRows(ComputeDevice d)
    {
        var random = new Random(13);
        var k = d.Kernels(rt => new SoftmaxKernels(rt));
        int rows = 5, samples = 23, hidden = 19, touched = samples + 3;
        using var logits = d.Upload<float>(TestData.Random(random, rows * samples, 2f), rows, samples);
        using var h = d.Upload<float>(Positive(random, rows * hidden, 0.5f), rows, hidden);
        using var touchedW = d.Upload<float>(Positive(random, touched * hidden, 0.5f), touched, hidden);
        using var touchedB = d.Upload<float>(TestData.Random(random, touched), touched);
        using var rowTouched = d.Upload<int>([23, 5, -1, 24, 25], rows);
        using var hit = d.Upload<int>([-1, 5, -1, -1, -1], rows);
        using var sampleLogQ = d.Upload<float>(TestData.Random(random, samples), samples);
        using var trueLogQ = d.Upload<float>(TestData.Random(random, rows), rows);
        using var rowLoss = d.Upload<float>(TestData.Poison(rows), rows);
        using var trueGrad = d.Upload<float>(TestData.Poison(rows), rows);
        var p = new SampledRowParams(rows, samples, hidden, touched, WriteGradient: 1, LossScale: 0.5f);
        k.SampledRows(d.Stream, p, logits.View, h.View, touchedW.View, touchedB.View, rowTouched.View, hit.View, sampleLogQ.View, trueLogQ.View,
            rowLoss.View, trueGrad.View);
        const string why = "the true logit's dot product and the (max, sum) pairs in index order on the host, a group's strides and tree in the kernel; exp and log MathF's there, KernelMath's here";
        return [new("rowLoss", Read(d, rowLoss), 8, why), new("trueGrad", Read(d, trueGrad), 8, why), new("sample gradient", Read(d, logits), 16, why)];
    }

    // ------------------------------------------------------------------------------------------------ reductions

    const string Float64Sums = "the host sums in index order in float64 and rounds once; the kernel sums float32 partials in a strided tree";

    /// <summary>A block's partial covers a contiguous chunk on the host and a grid stride on a device: only their total is the same sum.</summary>
    const string PartialsCover = "blocks cover other elements on the host (chunks) than on a device (strides), so the partials' total is compared; ";

    static float[] Total(float[] partials) => [(float)partials.Sum(v => (double)v)];

    static Output[] SquaredBlocks(ComputeDevice d)
    {
        var k = d.Kernels(rt => new ReductionKernels(rt));
        int n = 3001;
        using var x = d.Upload<float>(TestData.Random(new Random(14), n), n);
        using var partials = d.Upload<float>(TestData.Poison(k.BlocksFor(n)), k.BlocksFor(n));
        k.SquaredNormBlocks(d.Stream, x.View, partials.View);
        return [new("total of the partials", Total(Read(d, partials)), 16, PartialsCover + Float64Sums)];
    }

    static Output[] SquaredRowBlocks(ComputeDevice d)
    {
        var random = new Random(15);
        var k = d.Kernels(rt => new ReductionKernels(rt));
        int width = 7;
        using var table = d.Upload<float>(TestData.Random(random, 50 * width), 50, width);
        using var ids = d.Upload<int>([1, 4, 9, 16, 25, 36, 49, 0, 3], 9);
        int blocks = k.BlocksFor(9 * width);
        using var partials = d.Upload<float>(TestData.Poison(blocks), blocks);
        k.SquaredNormRowBlocks(d.Stream, new RowSet(ids.View, 9, width), table.View, partials.View);
        return [new("total of the partials", Total(Read(d, partials)), 16, PartialsCover + Float64Sums)];
    }

    static Output[] FinishNorm(ComputeDevice d)
    {
        var k = d.Kernels(rt => new ReductionKernels(rt));
        using var partials = d.Upload<float>(Positive(new Random(16), 40, 5f), 40);
        using var normAndScale = d.Upload<float>(TestData.Poison(2), 2);
        k.FinishNorm(d.Stream, partials.View, clipNorm: 3f, normAndScale.View);
        return [new("normAndScale", Read(d, normAndScale), 8, Float64Sums + "; the square root halves the error")];
    }

    static Output[] SumScaled(ComputeDevice d)
    {
        var k = d.Kernels(rt => new ReductionKernels(rt));
        using var values = d.Upload<float>(Positive(new Random(17), 300), 300);
        using var output = d.Upload<float>(TestData.Poison(1), 1);
        k.SumScaled(d.Stream, values.View, 0.25f, output.View);
        return [new("output", Read(d, output), 8, Float64Sums)];
    }

    // ------------------------------------------------------------------------------------------------ embeddings

    static Output[] ScatterAdd(ComputeDevice d)
    {
        var random = new Random(18);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        int rows = 12, dim = 7, n = 40;
        using var grad = d.Upload<float>(Positive(random, n * dim), n, dim);
        using var ids = d.Upload<int>(Enumerable.Range(0, n).Select(_ => random.Next(rows)).ToArray(), n);
        using var table = d.Upload<float>(Positive(random, rows * dim), rows, dim);
        k.ScatterAdd(d.Stream, grad.View, dim, ids.View, table.View);
        return [new("tableGrad", Read(d, table), 8, "positions added in ascending order on the host, in the atomics' arrival order in the kernel")];
    }

    static Output[] SegmentedScatterAdd(ComputeDevice d)
    {
        var random = new Random(19);
        var k = d.Kernels(rt => new EmbeddingKernels(rt));
        int rows = 12, dim = 7, n = 40;
        var idList = Enumerable.Range(0, n).Select(_ => random.Next(rows)).ToArray();
        int[] counts = new int[rows + 1], sorted = new int[n], starts = new int[n + 1], unique = new int[n];
        int segments = EmbeddingKernels.PlanSegments(idList, rows, counts, sorted, starts, unique);
        using var grad = d.Upload<float>(TestData.Random(random, n * dim), n, dim);
        using var sortedPositions = d.Upload<int>(sorted, n);
        using var segmentStarts = d.Upload<int>(starts, n + 1);
        using var segmentRows = d.Upload<int>(unique, n);
        using var table = d.Upload<float>(TestData.Random(random, rows * dim), rows, dim);
        k.SegmentedScatterAdd(d.Stream, grad.View, dim, new SegmentViews(sortedPositions.View, segmentStarts.View, segmentRows.View), segments, table.View);
        return [new("tableGrad", Read(d, table))];
    }

    // ------------------------------------------------------------------------------------------------ elementwise

    const int Elements = 1000;

    static Output[] Fill(ComputeDevice d)
    {
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        using var x = d.Upload<float>(TestData.Poison(Elements), Elements);
        k.Fill(d.Stream, x.View, 0.3f);
        return [new("x", Read(d, x))];
    }

    static Output[] Copy(ComputeDevice d)
    {
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        using var x = d.Upload<float>(TestData.Random(new Random(20), Elements), Elements);
        using var y = d.Upload<float>(TestData.Poison(Elements), Elements);
        k.Copy(d.Stream, x.View, y.View);
        return [new("y", Read(d, y))];
    }

    static Output[] Axpby(ComputeDevice d)
    {
        var random = new Random(21);
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        using var x = d.Upload<float>(TestData.Random(random, Elements), Elements);
        using var y = d.Upload<float>(TestData.Random(random, Elements), Elements);
        using var z = d.Upload<float>(TestData.Poison(Elements), Elements);
        k.Axpby(d.Stream, 1.7f, x.View, -0.6f, y.View);
        k.Axpby(d.Stream, -2.3f, x.View, 0f, z.View);
        return [new("y = a x + b y", Read(d, y)), new("z = a x", Read(d, z))];
    }

    static Output[] ColumnSums(ComputeDevice d)
    {
        var random = new Random(22);
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        int rows = 37, columns = 70;
        using var x = d.Upload<float>(Positive(random, rows * columns), rows, columns);
        using var sums = d.Upload<float>(TestData.Poison(columns), columns);
        using var blended = d.Upload<float>(Positive(random, columns), columns);
        k.ColumnSums(d.Stream, x.View, rows, sums.View);
        k.ColumnSums(d.Stream, x.View, rows, blended.View, beta: 0.5f);
        const string why = "each column's rows in order on the host, a tree of row slices in the kernel";
        return [new("sums", Read(d, sums), 16, why), new("beta sums", Read(d, blended), 16, why)];
    }

    static Output[] Dropout(ComputeDevice d)
    {
        var random = new Random(23);
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        int n = 9000;
        using var x = d.Upload<float>(TestData.Random(random, n), n);
        using var y = d.Upload<float>(TestData.Poison(n), n);
        k.Dropout(d.Stream, DropoutParams.Create(0.3f, seed: 5, offset: 123), x.View, y.View);
        // A replica's share of the rows: counters in runs of 5 x 7 elements per time step.
        using var share = d.Upload<float>(TestData.Poison(3 * 5 * 7), 3 * 5 * 7);
        k.Dropout(d.Stream, DropoutParams.Create(0.5f, seed: 6, offset: 11, new StreamRows(2, 5, 9), 7), x.View.SubView(0, share.Length), share.View);
        return [new("y", Read(d, y)), new("replica share", Read(d, share))];
    }

    // ------------------------------------------------------------------------------------------------ GEMM

    static Output[] Gemm(ComputeDevice d)
    {
        var random = new Random(24);
        int m = 33, n = 37, k = 129;
        using var a = d.Upload<float>(Positive(random, m * k), m, k);
        using var b = d.Upload<float>(Positive(random, k * n), k, n);
        using var c = d.Upload<float>(TestData.Poison(m * n), m, n);
        d.Gemm.Multiply(d.Stream, a, false, b, false, c);
        return [new("c", Read(d, c), 32, "k = 129 positive products summed in another order (the host blocks K and fuses multiply-adds; the coarse kernel sums in order)")];
    }

    /// <summary>
    /// The fused tail softmax (host execution only) against the GEMM route it replaces, which the simulation runs with
    /// ILGPU's GEMM and row kernels: a softmax over 130 classes from 10 features, 13 rows. On the host the two routes
    /// give the same bits (Softmax/NarrowSoftmaxRouteTests); here the bounds are the row kernel's and the GEMM's.
    /// </summary>
    static Output[] NarrowSoftmaxRows(ComputeDevice d)
    {
        var (loss, gradX, _) = NarrowSoftmax(d);
        return
        [
            new("rowLoss", loss, 16, "RowStats' vectorised exp and index-order sum against KernelMath's exp and a tree; logits summed in another order"),
            new("dX", gradX, 64, "130 gradient x weight products of both signs summed in another order, each gradient a few ulps apart", 0.05f),
        ];
    }

    static Output[] NarrowSoftmaxWeightGradient(ComputeDevice d) =>
        [new("dW", NarrowSoftmax(d).GradW, 64, "13 gradient x input products of both signs summed onto the prior, each gradient a few ulps apart", 0.5f)];

    static (float[] Loss, float[] GradX, float[] GradW) NarrowSoftmax(ComputeDevice d)
    {
        var random = new Random(25);
        int m = 13, classes = 130, features = 10;
        using var workspace = new Workspace(d);
        var softmax = new IlgpuElmo.Softmax.ChunkedSoftmax(d, workspace, "t", 1L << 20);
        using var x = d.Upload<float>(TestData.Random(random, m * features, 2f), m, features);
        using var w = d.Upload<float>(TestData.Random(random, classes * features), classes, features);
        using var targets = d.Upload<int>(Enumerable.Range(0, m).Select(r => r * 17 % classes).ToArray(), m);
        using var loss = d.Upload<float>(TestData.Poison(m), m);
        using var gradX = d.Upload<float>(TestData.Poison(m * features), m, features);
        using var gradW = d.Upload<float>(TestData.Random(random, classes * features, 0.5f), classes, features);
        softmax.ForwardBackward(d.Stream, x, w, null, targets, loss, 0.5f, gradX, gradW, null);
        return (Read(d, loss), Read(d, gradX), Read(d, gradW));
    }
}
