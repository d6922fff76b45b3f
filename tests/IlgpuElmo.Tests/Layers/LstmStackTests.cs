using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tests.Reference;
using static IlgpuElmo.Tests.Layers.LstmTestData;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Layers;

/// <summary>
/// LSTM stacks of one direction and the bidirectional LSTM against the float64 reference stacks in both
/// execution modes: every layer's output, final states, input gradient, initial-state gradients and all
/// parameter gradients, with skip connections, dropout, ragged lengths and the backward direction's
/// reversal within lengths. Outputs are poisoned between two forwards and the input gradient between
/// two backwards, so every element is shown written by each call.
/// </summary>
public class LstmStackTests
{
    const double Rtol = 2e-4, Atol = 2e-5, GradRtol = 1e-3, GradAtol = 1e-4;
    const float CellClip = 0.8f, ProjectionClip = 0.3f;

    static ReferenceLstmLayer[] ReferenceLayers(Random random, int layers, int input, int hidden, int projection) =>
        Enumerable.Range(0, layers).Select(k =>
        {
            var l = new ReferenceLstmLayer(k == 0 ? input : projection, hidden, projection, CellClip, ProjectionClip, 1.0);
            l.Randomize(random, 0.6f, 0.5f);
            return l;
        }).ToArray();

    static void Poison(ComputeDevice d, params IlgpuElmo.Tensors.DeviceTensor<float>[] tensors)
    {
        var k = d.Kernels(rt => new ElementwiseKernels(rt));
        foreach (var t in tensors) k.Fill(d.Stream, t.View, float.NaN);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void BackwardDirectionWithSkipDropoutAndStateMatchesReference(string mode) =>
        CheckStack(mode, seed: 51, direction: 1, layerCount: 2, input: 4, skip: true, dropout: 0.3f, withState: true, allGradients: true);

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ForwardDirectionThreeLayersTopGradientOnlyMatchesReference(string mode) =>
        CheckStack(mode, seed: 52, direction: 0, layerCount: 3, input: 6, skip: false, dropout: 0f, withState: false, allGradients: false);

    static void CheckStack(string mode, int seed, int direction, int layerCount, int input, bool skip, float dropout, bool withState, bool allGradients)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(seed);
        int steps = 5, batch = 3, hidden = 8, projection = 4;
        int[] lengths = [5, 2, 4];
        const ulong dropoutSeed = 77;
        var referenceLayers = ReferenceLayers(random, layerCount, input, hidden, projection);
        // An LstmStack runs in its input's time order whatever its direction (BidirectionalLstm reverses): compare unreversed.
        var reference = new ReferenceLstmStack(0, referenceLayers, skip);
        using var stack = new LstmStack(d, direction, layerCount, input, hidden, projection, CellClip, ProjectionClip, skip);
        Assert.Equal($"RNN_{direction}/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0", stack.Layers[1].Projection.Name);
        for (int k = 0; k < layerCount; k++) Load(d, stack.Layers[k], referenceLayers[k], random);
        var priors = stack.Layers.Select(l => Gradients(d, l)).ToArray();

        float[] x = TestData.Random(random, steps * batch * input, 2f);
        var h0 = Enumerable.Range(0, layerCount).Select(_ => TestData.Random(random, batch * projection, 0.3f)).ToArray();
        var c0 = Enumerable.Range(0, layerCount).Select(_ => TestData.Random(random, batch * hidden, 1f)).ToArray();
        using var lengthsOnDevice = SequenceLengths.Upload(d, lengths);
        using var inputTensor = d.Upload<float>(x, steps, batch, input);
        // A two-direction state: the stack reads and writes only its own direction's half.
        using var initial = new LstmState(d, 2, layerCount, batch, hidden, projection);
        using var final = new LstmState(d, 2, layerCount, batch, hidden, projection);
        for (int k = 0; k < layerCount; k++)
        {
            initial.H(direction, k).CopyFrom(d.Stream, h0[k]);
            initial.C(direction, k).CopyFrom(d.Stream, c0[k]);
        }

        stack.Forward(d.Stream, inputTensor, lengthsOnDevice, withState ? initial : null, final, dropout, dropoutSeed);
        Poison(d, Enumerable.Range(0, layerCount).Select(stack.Output).Append(final.AllH).Append(final.AllC).ToArray());
        stack.Forward(d.Stream, inputTensor, lengthsOnDevice, withState ? initial : null, final, dropout, dropoutSeed);

        var (outputs, hT, cT, cache) = reference.Forward(Doubles(x), steps, batch, lengths,
            withState ? h0.Select(Doubles).ToArray() : null, withState ? c0.Select(Doubles).ToArray() : null, dropout, dropoutSeed);
        for (int k = 0; k < layerCount; k++)
        {
            TestData.AssertClose(stack.Output(k).ToArray(d.Stream), outputs[k], Rtol, Atol, $"output of layer {k}");
            TestData.AssertClose(final.H(direction, k).ToArray(d.Stream), hT[k], Rtol, Atol, $"final h of layer {k}");
            TestData.AssertClose(final.C(direction, k).ToArray(d.Stream), cT[k], Rtol, Atol, $"final c of layer {k}");
        }

        var dy = Enumerable.Range(0, layerCount).Select(k => allGradients || k == layerCount - 1 ? TestData.Random(random, steps * batch * projection) : null).ToArray();
        var dhT = Enumerable.Range(0, layerCount).Select(_ => TestData.Random(random, batch * projection)).ToArray();
        var dcT = Enumerable.Range(0, layerCount).Select(_ => TestData.Random(random, batch * hidden)).ToArray();
        var dyTensors = dy.Select(g => g is null ? null : d.Upload<float>(g, steps, batch, projection)).ToArray();
        using var finalGradient = new LstmState(d, 2, layerCount, batch, hidden, projection);
        using var initialGradient = new LstmState(d, 2, layerCount, batch, hidden, projection);
        for (int k = 0; k < layerCount; k++)
        {
            finalGradient.H(direction, k).CopyFrom(d.Stream, dhT[k]);
            finalGradient.C(direction, k).CopyFrom(d.Stream, dcT[k]);
        }

        // Backward twice: the second, after poisoning the first's input gradient and restoring the gradient priors, is checked.
        var inputGradient = stack.Backward(d.Stream, dyTensors, finalGradient, initialGradient);
        Poison(d, inputGradient, initialGradient.AllH, initialGradient.AllC);
        for (int k = 0; k < layerCount; k++)
            foreach (var (p, prior) in stack.Layers[k].Parameters.Zip(priors[k])) p.Gradient.CopyFrom(d.Stream, Floats(prior));
        inputGradient = stack.Backward(d.Stream, dyTensors, finalGradient, initialGradient);

        var g = reference.Backward(cache, dy.Select(v => v is null ? null : Doubles(v)).ToArray(), dhT.Select(Doubles).ToArray(), dcT.Select(Doubles).ToArray());
        TestData.AssertClose(inputGradient.ToArray(d.Stream), g.X, GradRtol, GradAtol, "dx");
        for (int k = 0; k < layerCount; k++)
        {
            TestData.AssertClose(initialGradient.H(direction, k).ToArray(d.Stream), g.H0[k], GradRtol, GradAtol, $"dh0 of layer {k}");
            TestData.AssertClose(initialGradient.C(direction, k).ToArray(d.Stream), g.C0[k], GradRtol, GradAtol, $"dc0 of layer {k}");
            AssertGradients(d, stack.Layers[k], priors[k], g.Layers[k], GradRtol, GradAtol, $"layer {k}");
        }
        foreach (var t in dyTensors) t?.Dispose();
    }

    /// <summary>
    /// Both directions (on two streams where the device has them): outputs in input time order, final
    /// states, the input gradient summed over directions, and both directions' parameter gradients.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void BidirectionalMatchesTwoReferenceStacks(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(53);
        int steps = 4, batch = 3, input = 4, hidden = 6, projection = 4, layerCount = 2;
        int[] lengths = [2, 4, 0];
        const float dropout = 0.2f;
        const ulong seed = 9;
        using var lstm = new BidirectionalLstm(d, layerCount, input, hidden, projection, CellClip, ProjectionClip, skipConnections: true);
        var references = new ReferenceLstmStack[2];
        for (int direction = 0; direction < 2; direction++)
        {
            var layers = ReferenceLayers(random, layerCount, input, hidden, projection);
            references[direction] = new ReferenceLstmStack(direction, layers, skip: true);
            for (int k = 0; k < layerCount; k++)
            {
                Load(d, lstm.Directions[direction].Layers[k], layers[k], random);
                foreach (var p in lstm.Directions[direction].Layers[k].Parameters) p.Gradient.Clear(d.Stream);
            }
        }

        float[] x = TestData.Random(random, steps * batch * input, 2f);
        using var lengthsOnDevice = SequenceLengths.Upload(d, lengths);
        using var inputTensor = d.Upload<float>(x, steps, batch, input);
        using var state = lstm.CreateState(batch);
        var h0 = new float[2][][];
        for (int direction = 0; direction < 2; direction++)
        {
            h0[direction] = new float[layerCount][];
            for (int k = 0; k < layerCount; k++)
            {
                h0[direction][k] = TestData.Random(random, batch * projection, 0.3f);
                state.H(direction, k).CopyFrom(d.Stream, h0[direction][k]);
            }
        }

        // The state is carried in place: read as the initial state, overwritten with the final one.
        lstm.Forward(inputTensor, lengthsOnDevice, state, state, dropout, seed);
        var finalH = Enumerable.Range(0, 2).Select(dir => Enumerable.Range(0, layerCount).Select(k => state.H(dir, k).ToArray(d.Stream)).ToArray()).ToArray();
        var finalC = Enumerable.Range(0, 2).Select(dir => Enumerable.Range(0, layerCount).Select(k => state.C(dir, k).ToArray(d.Stream)).ToArray()).ToArray();

        var dy = new float[2][][];
        var expectedDx = new double[steps * batch * input];
        ReferenceLstmStack.Gradients[] referenceGradients = new ReferenceLstmStack.Gradients[2];
        for (int direction = 0; direction < 2; direction++)
        {
            var (outputs, hT, cT, cache) = references[direction].Forward(Doubles(x), steps, batch, lengths,
                h0[direction].Select(Doubles).ToArray(), null, dropout, direction == 0 ? seed : seed + 0x632BE59BD9B4E019UL);
            for (int k = 0; k < layerCount; k++)
            {
                TestData.AssertClose(lstm.Output(direction, k).ToArray(d.Stream), outputs[k], Rtol, Atol, $"direction {direction} layer {k} output");
                TestData.AssertClose(finalH[direction][k], hT[k], Rtol, Atol, $"direction {direction} layer {k} final h");
                TestData.AssertClose(finalC[direction][k], cT[k], Rtol, Atol, $"direction {direction} layer {k} final c");
            }
            dy[direction] = Enumerable.Range(0, layerCount).Select(_ => TestData.Random(random, steps * batch * projection)).ToArray();
            referenceGradients[direction] = references[direction].Backward(cache, dy[direction].Select(Doubles).ToArray());
            expectedDx = Plus(expectedDx, referenceGradients[direction].X);
        }

        var gradients = dy.Select(perLayer => perLayer.Select(g => (IlgpuElmo.Tensors.DeviceTensor<float>?)d.Upload<float>(g, steps, batch, projection)).ToArray()).ToArray();
        using var initialGradient = lstm.CreateState(batch);
        Poison(d, initialGradient.AllH, initialGradient.AllC);
        var inputGradient = lstm.Backward(gradients[0], gradients[1], null, initialGradient);
        TestData.AssertClose(inputGradient.ToArray(d.Stream), expectedDx, GradRtol, GradAtol, "dx");
        for (int direction = 0; direction < 2; direction++)
            for (int k = 0; k < layerCount; k++)
            {
                var layer = lstm.Directions[direction].Layers[k];
                var none = layer.Parameters.Select(p => new double[p.Gradient.Length]).ToArray();
                AssertGradients(d, layer, none, referenceGradients[direction].Layers[k], GradRtol, GradAtol, $"direction {direction} layer {k}");
                TestData.AssertClose(initialGradient.H(direction, k).ToArray(d.Stream), referenceGradients[direction].H0[k], GradRtol, GradAtol, $"direction {direction} layer {k} dh0");
            }
        foreach (var t in gradients.SelectMany(g => g)) t!.Dispose();
    }
}
