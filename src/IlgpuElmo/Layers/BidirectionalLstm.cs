using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Layers;

/// <summary>
/// ELMo's biLM body: two independent <see cref="LstmStack"/>s over the same token vectors, direction 0
/// left to right and direction 1 right to left. The backward direction runs the forward recurrence over
/// the input reversed within each row's length (so it starts at each row's last real token), and its
/// outputs are reversed back: every output here is in the input's time order.
/// </summary>
/// <remarks>
/// The directions share nothing, so on CUDA direction 0 runs on <see cref="ComputeDevice.Stream"/> and
/// direction 1 on <see cref="ComputeDevice.SecondStream"/>, ordered against each other only at the start
/// and end of each call by events (<see cref="StreamJoin"/>), never by a host wait. Callers enqueue on
/// and read from <see cref="ComputeDevice.Stream"/> as usual. Elsewhere the two streams are one; in host
/// execution the two directions run at once instead, each on half of the cores
/// (<see cref="HostWorkers.RunHalves"/>): a direction is a long chain of small launches (per time step, two
/// thin GEMMs and two pointwise kernels), which one core runs without the hand-offs that splitting each
/// launch over two cores costs. Each launch computes what it would on any number of threads, so the
/// results are the same bit for bit.
/// </remarks>
public sealed class BidirectionalLstm : IHasParameters, IDisposable
{
    readonly ComputeDevice device;
    readonly LstmKernels kernels;
    readonly ElementwiseKernels elementwise;
    readonly Workspace workspace;
    readonly StreamJoin join;
    readonly LstmStack[] stacks;
    readonly DeviceTensor<float>[] backwardOutputs;
    SequenceLengths? savedLengths;
    int savedSteps, savedBatch;

    /// <summary>Seed offset of direction 1's dropout stream, so the two directions draw different masks.</summary>
    const ulong BackwardSeedOffset = 0x632BE59BD9B4E019UL;

    public BidirectionalLstm(ComputeDevice device, int layerCount, int inputSize, int hiddenSize, int projectionSize,
        float? cellClip, float? projectionClip, bool skipConnections, float forgetBias = 1f)
    {
        this.device = device;
        kernels = device.Kernels(rt => new LstmKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        join = new StreamJoin(device);
        stacks =
        [
            new LstmStack(device, 0, layerCount, inputSize, hiddenSize, projectionSize, cellClip, projectionClip, skipConnections, forgetBias),
            new LstmStack(device, 1, layerCount, inputSize, hiddenSize, projectionSize, cellClip, projectionClip, skipConnections, forgetBias),
        ];
        backwardOutputs = new DeviceTensor<float>[layerCount];
    }

    /// <summary>Direction 0 (left to right) and 1 (right to left).</summary>
    public IReadOnlyList<LstmStack> Directions => stacks;
    public int LayerCount => stacks[0].Layers.Count;
    public int InputSize => stacks[0].InputSize;
    public int HiddenSize => stacks[0].HiddenSize;
    public int ProjectionSize => stacks[0].ProjectionSize;
    public IEnumerable<Parameter> Parameters => stacks.SelectMany(s => s.Parameters);

    /// <summary>A zeroed state that fits this LSTM for <paramref name="batch"/> rows.</summary>
    public LstmState CreateState(int batch) => new(device, 2, LayerCount, batch, HiddenSize, ProjectionSize);

    /// <summary>[T, B, P] layer <paramref name="layer"/>'s output in <paramref name="direction"/> from the last Forward, in input time order (read-only).</summary>
    public DeviceTensor<float> Output(int direction, int layer) => direction == 0
        ? stacks[0].Output(layer)
        : backwardOutputs[layer] ?? throw new InvalidOperationException("BidirectionalLstm.Output: run Forward first.");

    /// <summary>
    /// Runs both directions over a window (enqueued on <see cref="ComputeDevice.Stream"/>'s order).
    /// </summary>
    /// <param name="input">[T, B, in] time-major token vectors; keep unchanged until Backward.</param>
    /// <param name="initial">State to start from; null: zeros. <paramref name="final"/> receives the end state; may be the same object.</param>
    /// <param name="dropout">Dropout rate on every layer's input (training); 0: none.</param>
    /// <param name="seed">This step's dropout seed.</param>
    /// <param name="inferenceOnly">No Backward follows: rows sorted longest first skip their padding (<see cref="LstmProjectionLayer.Forward"/>).</param>
    public void Forward(DeviceTensor<float> input, SequenceLengths lengths, LstmState? initial = null, LstmState? final = null,
        float dropout = 0f, ulong seed = 0, bool inferenceOnly = false)
    {
        if (input.Shape.Rank != 3)
            throw new ArgumentException($"BidirectionalLstm: input must be [T, B, {InputSize}] (time-major), got {input.Shape}.");
        int steps = input.Shape[0], batch = input.Shape[1];
        input.Expect("BidirectionalLstm input", new Shape(steps, batch, InputSize));
        lengths.Check("BidirectionalLstm", steps, batch);
        var main = device.Stream;
        var second = device.SecondStream;
        var reverse = new ReverseParams(steps, batch, InputSize);
        var reversedInput = workspace.Get<float>("reversedInput", steps, batch, InputSize);

        for (int k = 0; k < LayerCount; k++) backwardOutputs[k] = workspace.Get<float>($"backwardOutput{k}", steps, batch, ProjectionSize);

        join.Wait(second, main);
        BothDirections(d =>
        {
            if (d == 0)
            {
                stacks[0].Forward(main, input, lengths, initial, final, dropout, seed, inferenceOnly: inferenceOnly);
                return;
            }
            kernels.ReverseWithinLength(second, reverse, input.View, lengths.Device.View, reversedInput.View);
            stacks[1].Forward(second, reversedInput, lengths, initial, final, dropout, seed + BackwardSeedOffset, inferenceOnly: inferenceOnly);
            for (int k = 0; k < LayerCount; k++)
                kernels.ReverseWithinLength(second, reverse with { Dim = ProjectionSize }, stacks[1].Output(k).View, lengths.Device.View,
                    backwardOutputs[k].View);
        });
        join.Wait(main, second);
        savedLengths = lengths;
        savedSteps = steps;
        savedBatch = batch;
    }

    /// <summary>
    /// Backpropagates through the last Forward; adds all parameter gradients.
    /// </summary>
    /// <param name="forwardGradients">dL/dOutput(0, k) [T, B, P] per layer, any of them null.</param>
    /// <param name="backwardGradients">dL/dOutput(1, k) [T, B, P] per layer (input time order), any of them null.</param>
    /// <param name="finalGradient">dL/d(final state); null: zeros. <paramref name="initialGradient"/> receives dL/d(initial state).</param>
    /// <returns>[T, B, in] dL/dinput summed over both directions; a workspace view valid until the next Backward.</returns>
    public DeviceTensor<float> Backward(IReadOnlyList<DeviceTensor<float>?> forwardGradients, IReadOnlyList<DeviceTensor<float>?> backwardGradients,
        LstmState? finalGradient = null, LstmState? initialGradient = null)
    {
        if (savedLengths is null) throw new InvalidOperationException("BidirectionalLstm: Backward needs a Forward first.");
        if (backwardGradients.Count != LayerCount)
            throw new ArgumentException($"BidirectionalLstm: {backwardGradients.Count} backward-direction gradients for {LayerCount} layers.");
        int steps = savedSteps, batch = savedBatch;
        var main = device.Stream;
        var second = device.SecondStream;
        var lengthView = savedLengths.Device.View;
        var reverse = new ReverseParams(steps, batch, ProjectionSize);

        var reversedGradients = new DeviceTensor<float>?[LayerCount];
        for (int k = 0; k < LayerCount; k++)
        {
            if (backwardGradients[k] is not { } gradient) continue;
            gradient.Expect($"BidirectionalLstm backward-direction gradient of layer {k}", new Shape(steps, batch, ProjectionSize));
            reversedGradients[k] = workspace.Get<float>($"reversedGradient{k}", steps, batch, ProjectionSize);
        }
        var inputGradient = workspace.Get<float>("inputGradient", steps, batch, InputSize);

        join.Wait(second, main);
        DeviceTensor<float> forwardInputGradient = null!;
        BothDirections(d =>
        {
            if (d == 0)
            {
                forwardInputGradient = stacks[0].Backward(main, forwardGradients, finalGradient, initialGradient);
                return;
            }
            for (int k = 0; k < LayerCount; k++)
                if (backwardGradients[k] is { } gradient)
                    kernels.ReverseWithinLength(second, reverse, gradient.View, lengthView, reversedGradients[k]!.View);
            var reversedInputGradient = stacks[1].Backward(second, reversedGradients, finalGradient, initialGradient);
            kernels.ReverseWithinLength(second, reverse with { Dim = InputSize }, reversedInputGradient.View, lengthView, inputGradient.View);
        });
        join.Wait(main, second);
        elementwise.Axpby(main, 1f, forwardInputGradient.View, 1f, inputGradient.View);
        return inputGradient;
    }

    /// <summary>
    /// Training's forward pass (bilm-tf's two streams of text; the backward stream is already reversed, so
    /// each stack runs left to right over its own input): direction 0 on <see cref="ComputeDevice.Stream"/>
    /// and direction 1 on <see cref="ComputeDevice.SecondStream"/> at once, forked from and joined back into
    /// <see cref="ComputeDevice.Stream"/> by device events. Outputs: <c>Directions[d].Output(k)</c>.
    /// </summary>
    /// <param name="inputs">[2T, B, in]: direction 0's window, then direction 1's.</param>
    /// <param name="state">Each direction's carried state, read at the start and written at the end.</param>
    /// <param name="rows">Which of the global batch's streams these B are (data-parallel replicas), for the dropout masks; null: all.</param>
    public void ForwardBothStreams(DeviceTensor<float> inputs, SequenceLengths lengths, LstmState state, float dropout,
        ulong forwardSeed, ulong backwardSeed, StreamRows? rows = null)
    {
        int steps = inputs.Shape[0] / 2;
        join.Wait(device.SecondStream, device.Stream);
        BothDirections(d => stacks[d].Forward(d == 0 ? device.Stream : device.SecondStream, inputs.Slice(d * steps, steps), lengths, state, state,
            dropout, d == 0 ? forwardSeed : backwardSeed, rows));
        join.Wait(device.Stream, device.SecondStream);
    }

    /// <summary>
    /// Backward of <see cref="ForwardBothStreams"/> from each direction's top-layer gradient [T, B, P], both
    /// directions at once again; writes dL/dinputs [2T, B, in] (direction 0's rows, then 1's) into
    /// <paramref name="inputGradients"/> and adds every parameter gradient.
    /// </summary>
    public void BackwardBothStreams(DeviceTensor<float> forwardTopGradient, DeviceTensor<float> backwardTopGradient, DeviceTensor<float> inputGradients)
    {
        int steps = inputGradients.Shape[0] / 2;
        join.Wait(device.SecondStream, device.Stream);
        BothDirections(d =>
        {
            var stream = d == 0 ? device.Stream : device.SecondStream;
            var gradients = new DeviceTensor<float>?[LayerCount];
            gradients[^1] = d == 0 ? forwardTopGradient : backwardTopGradient;
            var gradInput = stacks[d].Backward(stream, gradients);
            elementwise.Copy(stream, gradInput.View, inputGradients.Slice(d * steps, steps).View);
        });
        join.Wait(device.Stream, device.SecondStream);
    }

    /// <summary>
    /// Runs <paramref name="direction"/>(d) for both directions: at once in host execution (each on half of the
    /// cores), else direction 1 then 0 (on CUDA their streams overlap them).
    /// </summary>
    void BothDirections(Action<int> direction)
    {
        if (device.RunsOnHost)
        {
            HostWorkers.Shared.RunHalves(direction);
            return;
        }
        direction(1);
        direction(0);
    }

    public long WorkspaceBytes => workspace.Bytes + stacks.Sum(s => s.WorkspaceBytes);

    public void Dispose()
    {
        join.Dispose();
        workspace.Dispose();
        foreach (var stack in stacks) stack.Dispose();
    }
}
