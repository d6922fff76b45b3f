using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// One LSTM layer with a projection (ELMo's LSTMP cell; TensorFlow's LSTMCell with num_proj, cell_clip
/// and proj_clip, as bilm-tf trains it), run left to right over a whole time-major window. For each
/// step t and batch row b with t &lt; length_b:
/// <code>
///   [i, j, f, o] = x_t W_x + h_{t-1} W_h + B             gates in TensorFlow's order (see LstmKernels)
///   c_t = clip(sigmoid(f + forgetBias) c_{t-1} + sigmoid(i) tanh(j), cellClip)
///   h_t = clip((sigmoid(o) tanh(c_t)) W_p, projectionClip)
/// </code>
/// Padding steps (t &gt;= length_b) keep (h, c) unchanged and output 0. The backward direction of a
/// biLM is this same layer over the input reversed within each row's length (see <see cref="LstmStack"/>).
/// </summary>
/// <remarks>
/// Parameters, under bilm-tf's names in <c>{scope}</c> = <c>RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell</c>:
/// <c>W_0</c> [in + P, 4H] is ONE parameter, rows [0, in) applied to the input (W_x) and rows [in, in + P)
/// to the previous output (W_h), as TensorFlow concatenates [x, h]; both halves are row-slice views of it.
/// <c>B</c> [4H] is used as stored: TensorFlow's forget bias (1.0) is added at run time
/// (<see cref="ForgetBias"/>), not folded into B. <c>W_P_0</c> [H, P] is the projection.
///
/// How it runs: x W_x for all steps is one GEMM before the loop. Per step: the recurrent GEMM adds
/// h_{t-1} W_h into that step's slice (beta = 1), one fused kernel does bias + activations + cell update
/// + clip + mask and saves what backward needs, then the projection GEMM and the clip-and-mask kernel.
/// Backward per step: the clip-and-mask backward kernel, the GEMM dm = dh W_p^T, one fused gate-gradient
/// kernel, and the recurrent GEMM dh_{t-1} += dz W_h^T. The weight gradients are four big GEMMs over all
/// steps after the loop. Nothing is allocated, copied to the host or waited for inside either loop.
/// </remarks>
public sealed class LstmProjectionLayer : IHasParameters, IDisposable
{
    readonly ComputeDevice device;
    readonly LstmKernels kernels;
    readonly ElementwiseKernels elementwise;
    readonly Workspace workspace;

    // Saved by Forward for Backward: the caller's input (must stay unchanged until Backward), its lengths and sizes.
    DeviceTensor<float>? savedInput;
    SequenceLengths? savedLengths;
    int savedSteps, savedBatch;

    /// <param name="scope">Parameter name prefix, e.g. "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell".</param>
    /// <param name="cellClip">Clip of c to [-clip, clip]; null: none (bilm-tf: 3).</param>
    /// <param name="projectionClip">Clip of h to [-clip, clip]; null: none (bilm-tf: 3).</param>
    /// <param name="forgetBias">Added to the forget gate's pre-activation: 1.0 for bilm-tf/TensorFlow weights.</param>
    public LstmProjectionLayer(ComputeDevice device, string scope, int inputSize, int hiddenSize, int projectionSize,
        float? cellClip, float? projectionClip, float forgetBias = 1f)
    {
        if (inputSize <= 0 || hiddenSize <= 0 || projectionSize <= 0)
            throw new ArgumentException($"LSTM layer {scope}: sizes must be positive (input {inputSize}, hidden {hiddenSize}, projection {projectionSize}).");
        if (cellClip is <= 0 || projectionClip is <= 0)
            throw new ArgumentException($"LSTM layer {scope}: clips must be positive or absent (cell {cellClip}, projection {projectionClip}).");
        this.device = device;
        kernels = device.Kernels(rt => new LstmKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        Scope = scope;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        ProjectionSize = projectionSize;
        CellClip = cellClip;
        ProjectionClip = projectionClip;
        ForgetBias = forgetBias;
        Kernel = Parameter.Create(device, scope + "/W_0", new Shape(inputSize + projectionSize, 4 * hiddenSize));
        Bias = Parameter.Create(device, scope + "/B", new Shape(4 * hiddenSize));
        Projection = Parameter.Create(device, scope + "/W_P_0", new Shape(hiddenSize, projectionSize));
    }

    public string Scope { get; }
    public int InputSize { get; }
    public int HiddenSize { get; }
    public int ProjectionSize { get; }
    public float? CellClip { get; }
    public float? ProjectionClip { get; }
    public float ForgetBias { get; }

    /// <summary>W_0 [in + P, 4H]: rows [0, in) = W_x, rows [in, in + P) = W_h; columns gates i, j, f, o.</summary>
    public Parameter Kernel { get; }

    /// <summary>B [4H], gates i, j, f, o, without the forget bias.</summary>
    public Parameter Bias { get; }

    /// <summary>W_P_0 [H, P].</summary>
    public Parameter Projection { get; }

    public IEnumerable<Parameter> Parameters => [Kernel, Bias, Projection];

    DeviceTensor<float> InputWeight(DeviceTensor<float> w) => w.Slice(0, InputSize);
    DeviceTensor<float> RecurrentWeight(DeviceTensor<float> w) => w.Slice(InputSize, ProjectionSize);

    LstmStepParams Step(int batch, int t) =>
        new(batch, HiddenSize, ProjectionSize, t, CellClip ?? 0f, ProjectionClip ?? 0f, ForgetBias);

    // Saved for backward, [T, ...] per step (cells and states [T + 1, ...]: index 0 is the initial state).
    DeviceTensor<float> Gates(int t, int b) => workspace.Get<float>("gates", t, b, 4 * HiddenSize);              // activations i, j, f, o
    DeviceTensor<float> Cells(int t, int b) => workspace.Get<float>("cells", t + 1, b, HiddenSize);             // c_0 .. c_T
    DeviceTensor<float> States(int t, int b) => workspace.Get<float>("states", t + 1, b, ProjectionSize);       // h_0 .. h_T (carried on padding)
    DeviceTensor<float> CellOutputs(int t, int b) => workspace.Get<float>("cellOutputs", t, b, HiddenSize);     // m_t = o tanh(c_t)
    DeviceTensor<float> Projections(int t, int b) => workspace.Get<float>("projections", t, b, ProjectionSize); // m_t W_p before the clip

    /// <summary>
    /// Runs the layer over a window.
    /// </summary>
    /// <param name="input">[T, B, in] time-major; kept (by reference) for Backward: leave it unchanged until then.</param>
    /// <param name="lengths">[B] real steps per row.</param>
    /// <param name="output">[T, B, P] out: h_t, 0 at padding positions.</param>
    /// <param name="initial">h_0 [B, P], c_0 [B, H]; null: zeros.</param>
    /// <param name="final">out: h_T, c_T (each row's state after its last real step); may be the same tensors as <paramref name="initial"/>.</param>
    public void Forward(AcceleratorStream stream, DeviceTensor<float> input, SequenceLengths lengths, DeviceTensor<float> output,
        LstmLayerState? initial = null, LstmLayerState? final = null)
    {
        if (input.Shape.Rank != 3)
            throw new ArgumentException($"LSTM layer {Scope}: input must be [T, B, {InputSize}] (time-major), got {input.Shape}.");
        int steps = input.Shape[0], batch = input.Shape[1], h = HiddenSize, p = ProjectionSize;
        input.Expect($"LSTM layer {Scope} input", new Shape(steps, batch, InputSize));
        output.Expect($"LSTM layer {Scope} output", new Shape(steps, batch, p));
        lengths.Check($"LSTM layer {Scope}", steps, batch);
        CheckState("initial state", initial, batch);
        CheckState("final state", final, batch);

        var gates = Gates(steps, batch);
        var cells = Cells(steps, batch);
        var states = States(steps, batch);
        var cellOutputs = CellOutputs(steps, batch);
        var projections = Projections(steps, batch);
        var gemm = device.Gemm;
        var wh = RecurrentWeight(Kernel.Value);
        var wp = Projection.Value;
        var lengthView = lengths.Device.View;

        if (initial is { } start)
        {
            elementwise.Copy(stream, start.H.View, states.Row(0).View);
            elementwise.Copy(stream, start.C.View, cells.Row(0).View);
        }
        else
        {
            elementwise.Fill(stream, states.Row(0).View, 0f);
            elementwise.Fill(stream, cells.Row(0).View, 0f);
        }

        gemm.Multiply(stream, input.Reshape(steps * batch, InputSize), false, InputWeight(Kernel.Value), false,
            gates.Reshape(steps * batch, 4 * h));
        for (int t = 0; t < steps; t++)
        {
            var step = Step(batch, t);
            var gatesT = gates.Row(t);
            gemm.Multiply(stream, states.Row(t), false, wh, false, gatesT, 1f, 1f);
            kernels.CellForward(stream, step, gatesT.View, Bias.Value.View, lengthView, cells.Row(t).View, cells.Row(t + 1).View,
                cellOutputs.Row(t).View);
            gemm.Multiply(stream, cellOutputs.Row(t), false, wp, false, projections.Row(t));
            kernels.ProjectionForward(stream, step, projections.Row(t).View, lengthView, states.Row(t).View, states.Row(t + 1).View,
                output.Row(t).View);
        }

        if (final is { } end)
        {
            elementwise.Copy(stream, states.Row(steps).View, end.H.View);
            elementwise.Copy(stream, cells.Row(steps).View, end.C.View);
        }
        savedInput = input;
        savedLengths = lengths;
        savedSteps = steps;
        savedBatch = batch;
    }

    /// <summary>
    /// Backpropagates through the last Forward. Adds dL/dW_0, dL/dB, dL/dW_P_0 to the parameters'
    /// gradients and writes (or adds) dL/dinput.
    /// </summary>
    /// <param name="outputGradient">[T, B, P] dL/doutput (padding positions are ignored).</param>
    /// <param name="inputGradient">[T, B, in] out: dL/dinput; must not alias <paramref name="outputGradient"/>.</param>
    /// <param name="accumulateInputGradient">True: add to <paramref name="inputGradient"/> instead of overwriting it.</param>
    /// <param name="finalGradient">dL/dh_T [B, P], dL/dc_T [B, H] from beyond the window; null: zeros.</param>
    /// <param name="initialGradient">out: dL/dh_0, dL/dc_0.</param>
    public void Backward(AcceleratorStream stream, DeviceTensor<float> outputGradient, DeviceTensor<float> inputGradient,
        bool accumulateInputGradient = false, LstmLayerState? finalGradient = null, LstmLayerState? initialGradient = null)
    {
        if (savedInput is null || savedLengths is null) throw new InvalidOperationException($"LSTM layer {Scope}: Backward needs a Forward first.");
        int steps = savedSteps, batch = savedBatch, h = HiddenSize, p = ProjectionSize, rows = steps * batch;
        outputGradient.Expect($"LSTM layer {Scope} output gradient", new Shape(steps, batch, p));
        inputGradient.Expect($"LSTM layer {Scope} input gradient", new Shape(steps, batch, InputSize));
        CheckState("final state gradient", finalGradient, batch);
        CheckState("initial state gradient", initialGradient, batch);

        var gates = Gates(steps, batch);
        var cells = Cells(steps, batch);
        var states = States(steps, batch);
        var cellOutputs = CellOutputs(steps, batch);
        var projections = Projections(steps, batch);
        // Backward scratch: dL/d(pre-activations) [T, B, 4H] and dL/d(pre-clip projection) [T, B, P] for the
        // weight GEMMs; the per-step dL/dm [B, H] and the carried dL/dh [B, P], dL/dc [B, H].
        var gateGradients = workspace.Get<float>("gateGradients", steps, batch, 4 * h);
        var projectionGradients = workspace.Get<float>("projectionGradients", steps, batch, p);
        var cellOutputGradient = workspace.Get<float>("cellOutputGradient", batch, h);
        var stateGradient = workspace.Get<float>("stateGradient", batch, p);
        var cellGradient = workspace.Get<float>("cellGradient", batch, h);
        var gemm = device.Gemm;
        var wh = RecurrentWeight(Kernel.Value);
        var wp = Projection.Value;
        var lengthView = savedLengths.Device.View;

        if (finalGradient is { } end)
        {
            elementwise.Copy(stream, end.H.View, stateGradient.View);
            elementwise.Copy(stream, end.C.View, cellGradient.View);
        }
        else
        {
            elementwise.Fill(stream, stateGradient.View, 0f);
            elementwise.Fill(stream, cellGradient.View, 0f);
        }

        for (int t = steps - 1; t >= 0; t--)
        {
            var step = Step(batch, t);
            var gateGradientT = gateGradients.Row(t);
            kernels.ProjectionBackward(stream, step, projections.Row(t).View, lengthView, outputGradient.Row(t).View, stateGradient.View,
                projectionGradients.Row(t).View);
            gemm.Multiply(stream, projectionGradients.Row(t), false, wp, true, cellOutputGradient);
            kernels.CellBackward(stream, step, gates.Row(t).View, lengthView, cells.Row(t).View, cells.Row(t + 1).View,
                cellOutputGradient.View, cellGradient.View, gateGradientT.View);
            gemm.Multiply(stream, gateGradientT, false, wh, true, stateGradient, 1f, 1f);
        }

        if (initialGradient is { } start)
        {
            elementwise.Copy(stream, stateGradient.View, start.H.View);
            elementwise.Copy(stream, cellGradient.View, start.C.View);
        }

        // Weight gradients over all steps at once (padding rows carry zero gate and projection gradients).
        var dz = gateGradients.Reshape(rows, 4 * h);
        var ones = workspace.Get<float>("ones", 1, rows);
        elementwise.Fill(stream, ones.View, 1f);
        gemm.Multiply(stream, savedInput.Reshape(rows, InputSize), true, dz, false, InputWeight(Kernel.Gradient), 1f, 1f);
        gemm.Multiply(stream, states.Slice(0, steps).Reshape(rows, p), true, dz, false, RecurrentWeight(Kernel.Gradient), 1f, 1f);
        gemm.Multiply(stream, ones, false, dz, false, Bias.Gradient.Reshape(1, 4 * h), 1f, 1f);
        gemm.Multiply(stream, cellOutputs.Reshape(rows, h), true, projectionGradients.Reshape(rows, p), false, Projection.Gradient, 1f, 1f);
        gemm.Multiply(stream, dz, false, InputWeight(Kernel.Value), true, inputGradient.Reshape(rows, InputSize), 1f,
            accumulateInputGradient ? 1f : 0f);
    }

    void CheckState(string what, LstmLayerState? state, int batch)
    {
        if (state is not { } s) return;
        s.H.Expect($"LSTM layer {Scope} {what} h", new Shape(batch, ProjectionSize));
        s.C.Expect($"LSTM layer {Scope} {what} c", new Shape(batch, HiddenSize));
    }

    /// <summary>Bytes held for the saved activations and backward scratch.</summary>
    public long WorkspaceBytes => workspace.Bytes;

    public void Dispose()
    {
        workspace.Dispose();
        Kernel.Dispose();
        Bias.Dispose();
        Projection.Dispose();
    }
}
