using IlgpuElmo.Kernels;
using IlgpuElmo.Tests.Reference;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// Each of <see cref="LstmKernels"/>' kernels against the float64 reference cell (<see cref="ReferenceLstmLayer.Cell"/>
/// and its backward) or its formula, on one step with real and padding rows and the clips engaged, in both CPU modes.
/// The whole layer, GEMMs included, is checked in Layers/LstmProjectionLayerTests.cs.
/// </summary>
public class LstmKernelsTests
{
    // Step 2 of rows of lengths 5, 2, 3, 0: rows 1 and 3 are padding. H = 19, P = 21: a vector and a tail on the host.
    const int B = 4, H = 19, P = 21;
    static readonly int[] Lengths = [5, 2, 3, 0];
    static readonly LstmStepParams Step = new(B, H, P, Step: 2, CellClip: 1.5f, ProjectionClip: 1f, ForgetBias: 1f);

    static bool Real(int b) => Step.Step < Lengths[b];

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void CellForwardMatchesTheReferenceCell(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        var random = new Random(62);
        float[] z = TestData.Random(random, B * 4 * H, 2f), bias = TestData.Random(random, 4 * H, 0.5f), previous = TestData.Random(random, B * H, 2f);
        using var gates = d.Upload<float>(z, B, 4 * H);
        using var dBias = d.Upload<float>(bias, 4 * H);
        using var lengths = d.Upload<int>(Lengths, B);
        using var cellPrevious = d.Upload<float>(previous, B, H);
        using var cell = d.Upload<float>(TestData.Poison(B * H), B, H);
        using var cellOutput = d.Upload<float>(TestData.Poison(B * H), B, H);
        k.CellForward(d.Stream, Step, gates.View, dBias.View, lengths.View, cellPrevious.View, cell.View, cellOutput.View);

        var expectedGates = z.Select(v => (double)v).ToArray();
        var expectedCell = new double[B * H];
        var expectedOutput = new double[B * H];
        int clips = 0;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++)
            {
                int at = b * H + j, row = b * 4 * H;
                if (!Real(b))
                {
                    expectedCell[at] = previous[at];
                    continue;
                }
                double Pre(int gate) => (double)z[row + gate * H + j] + bias[gate * H + j];
                var c = ReferenceLstmLayer.Cell(Pre(0), Pre(1), Pre(2), Pre(3), previous[at], Step.ForgetBias, Step.CellClip);
                (expectedGates[row + j], expectedGates[row + H + j], expectedGates[row + 2 * H + j], expectedGates[row + 3 * H + j]) = (c.I, c.J, c.F, c.O);
                expectedCell[at] = c.C;
                expectedOutput[at] = c.M;
                if (ReferenceLstmLayer.Clipped(c.BeforeClip, Step.CellClip)) clips++;
            }
        Assert.InRange(clips, 1, 2 * H - 1);
        TestData.AssertClose(gates.ToArray(d.Stream), expectedGates, 1e-5, 1e-6, "activations (padding rows untouched)");
        TestData.AssertClose(cell.ToArray(d.Stream), expectedCell, 1e-5, 1e-6, "c_t (c_{t-1} on padding rows)");
        TestData.AssertClose(cellOutput.ToArray(d.Stream), expectedOutput, 1e-5, 1e-6, "m_t (0 on padding rows)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ProjectionForwardClipsRealRowsAndCarriesPaddingRows(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        var random = new Random(63);
        float[] projection = TestData.Random(random, B * P, 2f), previous = TestData.Random(random, B * P);
        using var dProjection = d.Upload<float>(projection, B, P);
        using var lengths = d.Upload<int>(Lengths, B);
        using var statePrevious = d.Upload<float>(previous, B, P);
        using var state = d.Upload<float>(TestData.Poison(B * P), B, P);
        using var output = d.Upload<float>(TestData.Poison(B * P), B, P);
        k.ProjectionForward(d.Stream, Step, dProjection.View, lengths.View, statePrevious.View, state.View, output.View);

        var clipped = projection.Select(v => Math.Clamp(v, -Step.ProjectionClip, Step.ProjectionClip)).ToArray();
        Assert.Contains(projection, v => Math.Abs(v) > Step.ProjectionClip);
        Assert.Equal(Enumerable.Range(0, B * P).Select(i => Real(i / P) ? clipped[i] : previous[i]), state.ToArray(d.Stream));
        Assert.Equal(Enumerable.Range(0, B * P).Select(i => Real(i / P) ? clipped[i] : 0f), output.ToArray(d.Stream));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ProjectionBackwardStopsAtTheClipAndPassesPaddingRowsThrough(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        var random = new Random(64);
        float[] projection = TestData.Random(random, B * P, 2f), outputGrad = TestData.Random(random, B * P), stateGrad = TestData.Random(random, B * P);
        using var dProjection = d.Upload<float>(projection, B, P);
        using var lengths = d.Upload<int>(Lengths, B);
        using var outputGradient = d.Upload<float>(outputGrad, B, P);
        using var stateGradient = d.Upload<float>(stateGrad, B, P);
        using var projectionGradient = d.Upload<float>(TestData.Poison(B * P), B, P);
        k.ProjectionBackward(d.Stream, Step, dProjection.View, lengths.View, outputGradient.View, stateGradient.View, projectionGradient.View);

        // The float sum of two floats is the float64 sum rounded once: exact expectations.
        Assert.Equal(Enumerable.Range(0, B * P).Select(i =>
                !Real(i / P) || ReferenceLstmLayer.Clipped(projection[i], Step.ProjectionClip) ? 0f : (float)((double)outputGrad[i] + stateGrad[i])),
            projectionGradient.ToArray(d.Stream));
        Assert.Equal(Enumerable.Range(0, B * P).Select(i => Real(i / P) ? 0f : stateGrad[i]), stateGradient.ToArray(d.Stream));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void CellBackwardMatchesTheReferenceCell(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        var random = new Random(65);
        var (activations, previous, cell) = SavedCell(random, B, H, Step.CellClip);
        float[] dm = TestData.Random(random, B * H), dc = TestData.Random(random, B * H);
        using var gates = d.Upload<float>(activations, B, 4 * H);
        using var lengths = d.Upload<int>(Lengths, B);
        using var cellPrevious = d.Upload<float>(previous, B, H);
        using var dCell = d.Upload<float>(cell, B, H);
        using var cellOutputGradient = d.Upload<float>(dm, B, H);
        using var cellGradient = d.Upload<float>(dc, B, H);
        using var gateGradient = d.Upload<float>(TestData.Poison(B * 4 * H), B, 4 * H);
        k.CellBackward(d.Stream, Step, gates.View, lengths.View, cellPrevious.View, dCell.View, cellOutputGradient.View, cellGradient.View, gateGradient.View);

        var expectedGates = new double[B * 4 * H];
        var expectedCarry = dc.Select(v => (double)v).ToArray();
        int clips = 0;
        for (int b = 0; b < B; b++)
        {
            if (!Real(b)) continue;
            for (int j = 0; j < H; j++)
            {
                int at = b * H + j, row = b * 4 * H;
                double i = activations[row + j], g = activations[row + H + j], f = activations[row + 2 * H + j], o = activations[row + 3 * H + j];
                double beforeClip = f * previous[at] + i * g;
                if (ReferenceLstmLayer.Clipped(beforeClip, Step.CellClip)) clips++;
                var grad = ReferenceLstmLayer.CellBackward(i, g, f, o, previous[at], beforeClip, cell[at], dm[at], dc[at], Step.CellClip);
                (expectedGates[row + j], expectedGates[row + H + j], expectedGates[row + 2 * H + j], expectedGates[row + 3 * H + j]) = (grad.I, grad.J, grad.F, grad.O);
                expectedCarry[at] = grad.CPrevious;
            }
        }
        Assert.InRange(clips, 1, 2 * H - 1);
        TestData.AssertClose(gateGradient.ToArray(d.Stream), expectedGates, 1e-5, 1e-6, "gate gradients (0 on padding rows)");
        TestData.AssertClose(cellGradient.ToArray(d.Stream), expectedCarry, 1e-5, 1e-6, "dL/dc_{t-1} (carried unchanged on padding rows)");
    }

    /// <summary>
    /// What a forward step saves for backward, [B, 4H] activations i, j, f, o (sigmoids in (0, 1), tanh in (-1, 1)),
    /// c_{t-1} [B, H] up to ±2 and c_t = clip(f c_{t-1} + i j) [B, H] in float32, as the forward kernel computes it.
    /// </summary>
    public static (float[] Gates, float[] Previous, float[] Cell) SavedCell(Random random, int batch, int hidden, float cellClip)
    {
        var gates = new float[batch * 4 * hidden];
        for (int i = 0; i < gates.Length; i++)
        {
            float unit = (float)(0.05 + 0.9 * random.NextDouble());
            gates[i] = (i / hidden) % 4 == 1 && random.Next(2) == 0 ? -unit : unit;
        }
        var previous = TestData.Random(random, batch * hidden, 2f);
        var cell = new float[batch * hidden];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < hidden; j++)
            {
                int row = b * 4 * hidden;
                float raw = gates[row + 2 * hidden + j] * previous[b * hidden + j] + gates[row + j] * gates[row + hidden + j];
                cell[b * hidden + j] = Math.Clamp(raw, -cellClip, cellClip);
            }
        return (gates, previous, cell);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ReverseWithinLengthReversesEachRowAndZeroesPadding(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        int steps = 5, batch = 4, dim = 3;
        int[] lengths = [5, 3, 0, 1];
        float[] src = TestData.Random(new Random(61), steps * batch * dim);
        using var lengthsOnDevice = d.Upload<int>(lengths, batch);
        using var input = d.Upload<float>(src, steps, batch, dim);
        using var reversed = d.Upload<float>(TestData.Poison(src.Length), steps, batch, dim);
        using var back = d.Upload<float>(TestData.Poison(src.Length), steps, batch, dim);
        var p = new ReverseParams(steps, batch, dim);
        k.ReverseWithinLength(d.Stream, p, input.View, lengthsOnDevice.View, reversed.View);
        k.ReverseWithinLength(d.Stream, p, reversed.View, lengthsOnDevice.View, back.View);

        var source = src.Select(v => (double)v).ToArray();
        Assert.Equal(ReferenceLstmStack.Reverse(source, steps, batch, dim, lengths).Select(v => (float)v), reversed.ToArray(d.Stream));
        var expectedBack = source.Select((v, i) => (i / dim) / batch < lengths[(i / dim) % batch] ? v : 0).ToArray();
        Assert.Equal(expectedBack.Select(v => (float)v), back.ToArray(d.Stream));
        Assert.Equal(src[(4 * batch + 0) * dim + 1], reversed.ToArray(d.Stream)[(0 * batch + 0) * dim + 1]);
    }
}
