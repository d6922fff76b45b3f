using IlgpuElmo.Layers;
using IlgpuElmo.Tests.Reference;
using static IlgpuElmo.Tests.Layers.LstmTestData;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Layers;

/// <summary>
/// One LSTM-with-projection layer (the fused kernels and the GEMMs around them) against the float64
/// reference in both execution modes: outputs, final states and every gradient.
/// </summary>
public class LstmProjectionLayerTests
{
    // Hidden 12: the host row bodies run both their 8-lane vector loop and their scalar tail.
    const int Steps = 5, Batch = 4, Input = 5, Hidden = 12, Projection = 4;
    const double Rtol = 2e-4, Atol = 2e-5, GradRtol = 1e-3, GradAtol = 1e-4;

    /// <summary>
    /// Clips that engage (large inputs, small clips), ragged lengths with an empty row, an initial state,
    /// final-state gradients, and accumulation into existing input and parameter gradients.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ClippedRaggedStatefulMatchesReference(string mode) =>
        Check(mode, seed: 41, lengths: [5, 2, 0, 4], cellClip: 0.8f, projectionClip: 0.2f, withState: true, accumulate: true, forgetBias: 1f);

    /// <summary>No clips, full rows, zero initial state, input gradient overwritten (poisoned first), another forget bias.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void UnclippedFullMatchesReference(string mode) =>
        Check(mode, seed: 42, lengths: [5, 5, 5, 5], cellClip: null, projectionClip: null, withState: false, accumulate: false, forgetBias: 0.25f);

    static void Check(string mode, int seed, int[] lengths, float? cellClip, float? projectionClip, bool withState, bool accumulate, float forgetBias)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(seed);
        var reference = new ReferenceLstmLayer(Input, Hidden, Projection, cellClip ?? 0, projectionClip ?? 0, forgetBias);
        reference.Randomize(random, 0.6f, 0.5f);
        using var layer = new LstmProjectionLayer(d, "test/LSTMCell", Input, Hidden, Projection, cellClip, projectionClip, forgetBias);
        Load(d, layer, reference, random);
        var prior = Gradients(d, layer);

        float[] x = TestData.Random(random, Steps * Batch * Input, 2f);
        float[] h0 = TestData.Random(random, Batch * Projection, 0.3f), c0 = TestData.Random(random, Batch * Hidden, 1f);
        using var lengthsOnDevice = SequenceLengths.Upload(d, lengths);
        using var input = d.Upload<float>(x, Steps, Batch, Input);
        using var output = Poisoned(d, Steps, Batch, Projection);
        using var initialH = d.Upload<float>(h0, Batch, Projection);
        using var initialC = d.Upload<float>(c0, Batch, Hidden);
        using var finalH = Poisoned(d, Batch, Projection);
        using var finalC = Poisoned(d, Batch, Hidden);
        layer.Forward(d.Stream, input, lengthsOnDevice, output, withState ? new LstmLayerState(initialH, initialC) : null,
            new LstmLayerState(finalH, finalC));

        var (y, hT, cT, cache) = reference.Forward(Doubles(x), Steps, Batch, lengths, withState ? Doubles(h0) : null, withState ? Doubles(c0) : null);
        if (cellClip is not null)
        {
            int real = lengths.Sum();
            Assert.True(reference.CellClips > 0 && reference.ProjectionClips > 0 && reference.CellClips < real * Hidden && reference.ProjectionClips < real * Projection,
                $"the clips should engage on some values, not all: {reference.CellClips} cell, {reference.ProjectionClips} projection");
        }
        TestData.AssertClose(output.ToArray(d.Stream), y, Rtol, Atol, "output");
        TestData.AssertClose(finalH.ToArray(d.Stream), hT, Rtol, Atol, "final h");
        TestData.AssertClose(finalC.ToArray(d.Stream), cT, Rtol, Atol, "final c");

        float[] dy = TestData.Random(random, Steps * Batch * Projection), dhT = TestData.Random(random, Batch * Projection),
            dcT = TestData.Random(random, Batch * Hidden), dxPrior = TestData.Random(random, Steps * Batch * Input);
        using var outputGradient = d.Upload<float>(dy, Steps, Batch, Projection);
        using var inputGradient = accumulate ? d.Upload<float>(dxPrior, Steps, Batch, Input) : Poisoned(d, Steps, Batch, Input);
        using var finalGradH = d.Upload<float>(dhT, Batch, Projection);
        using var finalGradC = d.Upload<float>(dcT, Batch, Hidden);
        using var initialGradH = Poisoned(d, Batch, Projection);
        using var initialGradC = Poisoned(d, Batch, Hidden);
        layer.Backward(d.Stream, outputGradient, inputGradient, accumulate, new LstmLayerState(finalGradH, finalGradC),
            new LstmLayerState(initialGradH, initialGradC));

        var g = reference.Backward(cache, Doubles(dy), Doubles(dhT), Doubles(dcT));
        TestData.AssertClose(inputGradient.ToArray(d.Stream), accumulate ? Plus(Doubles(dxPrior), g.X) : g.X, GradRtol, GradAtol, "dx");
        TestData.AssertClose(initialGradH.ToArray(d.Stream), g.H0, GradRtol, GradAtol, "dh0");
        TestData.AssertClose(initialGradC.ToArray(d.Stream), g.C0, GradRtol, GradAtol, "dc0");
        AssertGradients(d, layer, prior, g, GradRtol, GradAtol, "layer");
    }

    /// <summary>
    /// Two halves of a window in sequence, the state carried from the first to the second (and the state
    /// gradient back), equal the whole window: outputs, final state and parameter gradients.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void TwoHalvesInSequenceEqualTheWhole(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(43);
        int[] lengths = [5, 3, 1, 4];
        int first = 2, second = Steps - first;
        var reference = new ReferenceLstmLayer(Input, Hidden, Projection, 0.8, 0.4, 1.0);
        reference.Randomize(random, 0.6f, 0.5f);
        using var whole = new LstmProjectionLayer(d, "whole", Input, Hidden, Projection, 0.8f, 0.4f);
        using var head = new LstmProjectionLayer(d, "head", Input, Hidden, Projection, 0.8f, 0.4f);
        using var tail = new LstmProjectionLayer(d, "tail", Input, Hidden, Projection, 0.8f, 0.4f);
        foreach (var layer in new[] { whole, head, tail })
        {
            Load(d, layer, reference, new Random(1));
            foreach (var p in layer.Parameters) p.Gradient.Clear(d.Stream);
        }

        float[] x = TestData.Random(random, Steps * Batch * Input, 2f), dy = TestData.Random(random, Steps * Batch * Projection);
        using var allLengths = SequenceLengths.Upload(d, lengths);
        using var headLengths = SequenceLengths.Upload(d, lengths.Select(l => Math.Min(l, first)).ToArray());
        using var tailLengths = SequenceLengths.Upload(d, lengths.Select(l => Math.Max(l - first, 0)).ToArray());
        using var input = d.Upload<float>(x, Steps, Batch, Input);
        using var outputGradient = d.Upload<float>(dy, Steps, Batch, Projection);
        using var state = new LstmState(d, 1, 1, Batch, Hidden, Projection);
        using var stateGradient = new LstmState(d, 1, 1, Batch, Hidden, Projection);
        using var wholeOutput = Poisoned(d, Steps, Batch, Projection);
        using var headOutput = Poisoned(d, first, Batch, Projection);
        using var tailOutput = Poisoned(d, second, Batch, Projection);
        using var wholeFinal = new LstmState(d, 1, 1, Batch, Hidden, Projection);
        using var wholeInputGradient = Poisoned(d, Steps, Batch, Input);
        using var headInputGradient = Poisoned(d, first, Batch, Input);
        using var tailInputGradient = Poisoned(d, second, Batch, Input);

        whole.Forward(d.Stream, input, allLengths, wholeOutput, null, wholeFinal.Layer(0, 0));
        whole.Backward(d.Stream, outputGradient, wholeInputGradient);
        head.Forward(d.Stream, input.Slice(0, first), headLengths, headOutput, null, state.Layer(0, 0));
        tail.Forward(d.Stream, input.Slice(first, second), tailLengths, tailOutput, state.Layer(0, 0), state.Layer(0, 0));
        tail.Backward(d.Stream, outputGradient.Slice(first, second), tailInputGradient, false, null, stateGradient.Layer(0, 0));
        head.Backward(d.Stream, outputGradient.Slice(0, first), headInputGradient, false, stateGradient.Layer(0, 0), null);

        static double[] Values(ComputeDevice d, params IlgpuElmo.Tensors.DeviceTensor<float>[] parts) => parts.SelectMany(p => Doubles(p.ToArray(d.Stream))).ToArray();
        TestData.AssertClose(Values(d, headOutput, tailOutput).Select(v => (float)v).ToArray(), Values(d, wholeOutput), 1e-5, 1e-6, "outputs");
        TestData.AssertClose(Values(d, state.AllH, state.AllC).Select(v => (float)v).ToArray(), Values(d, wholeFinal.AllH, wholeFinal.AllC), 1e-5, 1e-6, "final state");
        TestData.AssertClose(Values(d, headInputGradient, tailInputGradient).Select(v => (float)v).ToArray(), Values(d, wholeInputGradient), 1e-4, 1e-5, "dx");
        for (int i = 0; i < 3; i++)
        {
            var halves = Plus(Doubles(head.Parameters.ElementAt(i).Gradient.ToArray(d.Stream)), Doubles(tail.Parameters.ElementAt(i).Gradient.ToArray(d.Stream)));
            TestData.AssertClose(Floats(halves), Doubles(whole.Parameters.ElementAt(i).Gradient.ToArray(d.Stream)), 1e-4, 1e-5, whole.Parameters.ElementAt(i).Name);
        }
    }
    [Fact]
    public void BadLengthsAndShapesAreRejectedWithBothValues()
    {
        var d = TestDevices.Host;
        using var layer = new LstmProjectionLayer(d, "test/LSTMCell", Input, Hidden, Projection, 3f, 3f);
        using var input = d.Upload<float>(TestData.Random(new Random(44), Steps * Batch * Input), Steps, Batch, Input);
        using var output = Poisoned(d, Steps, Batch, Projection);
        using var tooLong = SequenceLengths.Upload(d, [5, 6, 1, 1]);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(d.Stream, input, tooLong, output));
        Assert.Contains("length 6", e.Message);
        Assert.Contains("5 time steps", e.Message);
        using var tooFew = SequenceLengths.Upload(d, [5, 5]);
        Assert.Contains("2 sequence lengths", Assert.Throws<ArgumentException>(() => layer.Forward(d.Stream, input, tooFew, output)).Message);
        using var lengths = SequenceLengths.Full(d, Batch, Steps);
        using var wrongOutput = Poisoned(d, Steps, Batch, Hidden);
        var shape = Assert.ThrowsAny<ArgumentException>(() => layer.Forward(d.Stream, input, lengths, wrongOutput));
        Assert.Contains($"[{Steps}, {Batch}, {Projection}]", shape.Message);
        using var fresh = new LstmProjectionLayer(d, "fresh", Input, Hidden, Projection, 3f, 3f);
        Assert.Throws<InvalidOperationException>(() => fresh.Backward(d.Stream, output, input));
    }
}
