using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// n LSTM-with-projection layers of one direction of ELMo's biLM (bilm-tf's MultiRNNCell of
/// DropoutWrapper(ResidualWrapper(LSTMCell))): layer k reads
/// <c>in_k = dropout(k == 0 ? x : y_{k-1})</c> and outputs <c>y_k = h_k + (skip and k &gt;= 1 ? in_k : 0)</c>,
/// so the residual adds the dropped-out input, as TensorFlow's wrapper order does. Dropout is inverted
/// dropout with the counter RNG (<see cref="ElementwiseKernels.Dropout"/>), applied only when a rate is
/// given (training). The stack runs in the time order of its input: the backward direction's caller
/// (<see cref="BidirectionalLstm"/>) reverses the input within each row's length first.
/// </summary>
public sealed class LstmStack : IHasParameters, IDisposable
{
    readonly ElementwiseKernels elementwise;
    readonly Workspace workspace;
    readonly LstmProjectionLayer[] layers;
    readonly DeviceTensor<float>[] outputs;
    readonly DeviceTensor<float>[] layerInputs;
    DropoutParams[]? savedDropout;
    int savedSteps, savedBatch;

    /// <param name="direction">0 forward, 1 backward: the d in the parameter names RNN_{d}/... and in <see cref="LstmState"/>.</param>
    /// <param name="layerCount">Layers (bilm-tf n_layers).</param>
    /// <param name="inputSize">Width of the stack's input (layer 0); layers above read <paramref name="projectionSize"/>.</param>
    /// <param name="skipConnections">bilm-tf use_skip_connections: residual around every layer after the first.</param>
    public LstmStack(ComputeDevice device, int direction, int layerCount, int inputSize, int hiddenSize, int projectionSize,
        float? cellClip, float? projectionClip, bool skipConnections, float forgetBias = 1f)
    {
        if (layerCount <= 0) throw new ArgumentException($"An LSTM stack needs at least one layer, got {layerCount}.");
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        Direction = direction;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        ProjectionSize = projectionSize;
        SkipConnections = skipConnections;
        layers = new LstmProjectionLayer[layerCount];
        for (int k = 0; k < layerCount; k++)
            layers[k] = new LstmProjectionLayer(device, Scope(direction, k), k == 0 ? inputSize : projectionSize, hiddenSize, projectionSize,
                cellClip, projectionClip, forgetBias);
        outputs = new DeviceTensor<float>[layerCount];
        layerInputs = new DeviceTensor<float>[layerCount];
    }

    /// <summary>bilm-tf's variable scope of layer <paramref name="layer"/> in direction <paramref name="direction"/>.</summary>
    public static string Scope(int direction, int layer) => $"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell";

    public int Direction { get; }
    public int InputSize { get; }
    public int HiddenSize { get; }
    public int ProjectionSize { get; }
    public bool SkipConnections { get; }
    public IReadOnlyList<LstmProjectionLayer> Layers => layers;
    public IEnumerable<Parameter> Parameters => layers.SelectMany(l => l.Parameters);

    /// <summary>[T, B, P] layer <paramref name="layer"/>'s output y_k of the last Forward (0 at padding), in the input's time order.</summary>
    public DeviceTensor<float> Output(int layer) =>
        outputs[layer] ?? throw new InvalidOperationException("LstmStack.Output: run Forward first.");

    /// <summary>
    /// Runs all layers over a window.
    /// </summary>
    /// <param name="input">[T, B, in] time-major; keep it unchanged until Backward.</param>
    /// <param name="initial">State to start from (direction <see cref="Direction"/> of it); null: zeros.</param>
    /// <param name="final">Receives the state after each row's last real step; may be <paramref name="initial"/>.</param>
    /// <param name="dropout">Dropout rate on every layer's input (training); 0: none.</param>
    /// <param name="seed">This step's dropout seed; layer k draws from elements [offset_k, offset_k + T B in_k) of its stream.</param>
    /// <param name="rows">Which streams of the whole batch these B rows are (a data-parallel replica's share): masks are drawn at the rows' whole-batch counters; null: all.</param>
    public void Forward(AcceleratorStream stream, DeviceTensor<float> input, SequenceLengths lengths, LstmState? initial = null,
        LstmState? final = null, float dropout = 0f, ulong seed = 0, StreamRows? rows = null)
    {
        if (input.Shape.Rank != 3)
            throw new ArgumentException($"LSTM direction {Direction}: input must be [T, B, {InputSize}] (time-major), got {input.Shape}.");
        if (dropout is < 0f or >= 1f) throw new ArgumentException($"LSTM dropout rate must be in [0, 1), got {dropout}.");
        int steps = input.Shape[0], batch = input.Shape[1];
        input.Expect($"LSTM direction {Direction} input", new Shape(steps, batch, InputSize));
        initial?.Check("initial LSTM state", Direction + 1, layers.Length, batch, HiddenSize, ProjectionSize);
        final?.Check("final LSTM state", Direction + 1, layers.Length, batch, HiddenSize, ProjectionSize);

        savedDropout = dropout > 0f ? new DropoutParams[layers.Length] : null;
        var share = rows ?? StreamRows.All(batch);
        if (share.Local != batch) throw new ArgumentException($"LSTM direction {Direction}: the stream share has {share.Local} rows but the input {batch}.");
        long offset = 0;
        for (int k = 0; k < layers.Length; k++)
        {
            var layer = layers[k];
            var source = k == 0 ? input : outputs[k - 1];
            var layerInput = source;
            if (savedDropout is not null)
            {
                layerInput = workspace.Get<float>($"input{k}", steps, batch, layer.InputSize);
                savedDropout[k] = DropoutParams.Create(dropout, seed, offset, share, layer.InputSize);
                elementwise.Dropout(stream, savedDropout[k], source.View, layerInput.View);
                offset += (long)steps * share.Global * layer.InputSize;
            }
            layerInputs[k] = layerInput;
            var output = workspace.Get<float>($"output{k}", steps, batch, ProjectionSize);
            layer.Forward(stream, layerInput, lengths, output, initial?.Layer(Direction, k), final?.Layer(Direction, k));
            if (SkipConnections && k > 0) elementwise.Axpby(stream, 1f, layerInput.View, 1f, output.View);
            outputs[k] = output;
        }
        savedSteps = steps;
        savedBatch = batch;
    }

    /// <summary>
    /// Backpropagates through the last Forward; adds every layer's parameter gradients.
    /// </summary>
    /// <param name="outputGradients">dL/dy_k [T, B, P] per layer, any of them null (training passes only the top).</param>
    /// <param name="finalGradient">dL/d(final state) from beyond the window; null: zeros.</param>
    /// <param name="initialGradient">out: dL/d(initial state).</param>
    /// <returns>[T, B, in] dL/dinput, a view of this stack's workspace valid until its next Backward.</returns>
    public DeviceTensor<float> Backward(AcceleratorStream stream, IReadOnlyList<DeviceTensor<float>?> outputGradients,
        LstmState? finalGradient = null, LstmState? initialGradient = null)
    {
        if (layerInputs[0] is null) throw new InvalidOperationException($"LSTM direction {Direction}: Backward needs a Forward first.");
        if (outputGradients.Count != layers.Length)
            throw new ArgumentException($"LSTM direction {Direction}: {outputGradients.Count} output gradients for {layers.Length} layers.");
        int steps = savedSteps, batch = savedBatch;
        finalGradient?.Check("final LSTM state gradient", Direction + 1, layers.Length, batch, HiddenSize, ProjectionSize);
        initialGradient?.Check("initial LSTM state gradient", Direction + 1, layers.Length, batch, HiddenSize, ProjectionSize);

        // gradient: dL/dy_k of the layer being processed, starting at the top.
        var gradient = outputGradients[^1];
        if (gradient is null)
        {
            gradient = workspace.Get<float>("topGradient", steps, batch, ProjectionSize);
            elementwise.Fill(stream, gradient.View, 0f);
        }
        DeviceTensor<float> inputGradient = null!;
        for (int k = layers.Length - 1; k >= 0; k--)
        {
            var layer = layers[k];
            // Alternating buffers: layer k's input gradient is layer k-1's output gradient, never the one being read.
            inputGradient = workspace.Get<float>($"inputGradient{k % 2}", steps, batch, layer.InputSize);
            bool residual = SkipConnections && k > 0;
            if (residual) elementwise.Copy(stream, gradient.View, inputGradient.View);
            layer.Backward(stream, gradient, inputGradient, accumulateInputGradient: residual,
                finalGradient?.Layer(Direction, k), initialGradient?.Layer(Direction, k));
            if (savedDropout is not null) elementwise.Dropout(stream, savedDropout[k], inputGradient.View, inputGradient.View);
            if (k > 0 && outputGradients[k - 1] is { } external) elementwise.Axpby(stream, 1f, external.View, 1f, inputGradient.View);
            gradient = inputGradient;
        }
        return inputGradient;
    }

    public long WorkspaceBytes => workspace.Bytes + layers.Sum(l => l.WorkspaceBytes);

    public void Dispose()
    {
        workspace.Dispose();
        foreach (var layer in layers) layer.Dispose();
    }
}
