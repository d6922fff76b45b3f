using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The pointwise half of ELMo's LSTM with projection (TensorFlow's LSTMCell with num_proj, cell_clip,
/// proj_clip, as bilm-tf trains it); the GEMMs around these kernels are the caller's. Per step t and
/// batch row b with t &lt; length_b:
/// <code>
///   z = x_t W_x + h_{t-1} W_h            (the caller's GEMMs, written into `gates`)
///   i = sigmoid(z_i + B_i)   j = tanh(z_j + B_j)   f = sigmoid(z_f + B_f + forgetBias)   o = sigmoid(z_o + B_o)
///   c_t = clip(f c_{t-1} + i j, cellClip)      m_t = o tanh(c_t)
///   h_t = clip(m_t W_p, projectionClip)        (the caller's GEMM, then <see cref="ProjectionForward"/>)
/// </code>
/// Gate order in every [.., 4H] buffer, weight and bias is TensorFlow's: i (input), j (candidate),
/// f (forget), o (output), H columns each. So bilm-tf's W_0 and B are used as published, and the
/// forget bias TensorFlow adds at run time (1.0) is a launch parameter, not part of B.
/// Rows with t &gt;= length_b are padding: their state (h, c) is carried unchanged, their output is 0,
/// and in backward they pass the state gradients through and produce no gate gradient.
/// A clip passes no gradient where it clipped (TensorFlow's clip_by_value: none where |x| &gt; clip).
/// A clip of 0 means no clip. Host execution runs <see cref="LstmHost"/>' vectorised row versions; the per-element maths
/// both share is <see cref="LstmElement"/>.
/// </summary>
public sealed class LstmKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, LstmStepParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> cellForward;
    readonly Action<AcceleratorStream, Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> projectionForward;
    readonly Action<AcceleratorStream, Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> projectionBackward;
    readonly Action<AcceleratorStream, Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> cellBackward;
    readonly Action<AcceleratorStream, Index1D, ReverseParams, ArrayView<float>, ArrayView<int>, ArrayView<float>> reverseWithinLength;

    public LstmKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        cellForward = acc.LoadAutoGroupedKernel<Index1D, LstmStepParams, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CellForwardKernel);
        projectionForward = acc.LoadAutoGroupedKernel<Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ProjectionForwardKernel);
        projectionBackward = acc.LoadAutoGroupedKernel<Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ProjectionBackwardKernel);
        cellBackward = acc.LoadAutoGroupedKernel<Index1D, LstmStepParams, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CellBackwardKernel);
        reverseWithinLength = acc.LoadAutoGroupedKernel<Index1D, ReverseParams, ArrayView<float>, ArrayView<int>, ArrayView<float>>(ReverseWithinLengthKernel);
    }

    /// <summary>
    /// One step's cell: activations, cell update and clip, cell output; one thread per (b, h).
    /// </summary>
    /// <param name="gates">[B, 4H], gates i, j, f, o: in, the pre-activations without bias (x W_x + h W_h);
    /// out, the activations (saved for backward). Padding rows are left as they are (never read).</param>
    /// <param name="bias">[4H] B, gates i, j, f, o (without the forget bias).</param>
    /// <param name="lengths">[B] each row's length.</param>
    /// <param name="cellPrevious">[B, H] c_{t-1}.</param>
    /// <param name="cell">[B, H] out: c_t (clipped), or c_{t-1} on padding rows.</param>
    /// <param name="cellOutput">[B, H] out: m_t = o tanh(c_t), the projection's input; 0 on padding rows.</param>
    public void CellForward(AcceleratorStream s, LstmStepParams p, ArrayView<float> gates, ArrayView<float> bias, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutput)
    {
        long n = (long)p.Batch * p.Hidden;
        Check(gates.Length == 4 * n && bias.Length == 4L * p.Hidden && lengths.Length == p.Batch && cellPrevious.Length == n
              && cell.Length == n && cellOutput.Length == n, $"CellForward: views do not match B={p.Batch}, H={p.Hidden}.");
        runtime.ForRows(s, n, (st, i) => cellForward(st, i, p, gates, bias, lengths, cellPrevious, cell, cellOutput),
            p.Batch, b => LstmHost.CellForward(b, p, gates, bias, lengths, cellPrevious, cell, cellOutput));
    }

    /// <summary>
    /// One step's projection clip and mask; one thread per (b, p).
    /// </summary>
    /// <param name="projection">[B, P] m_t W_p before the clip (saved for backward).</param>
    /// <param name="lengths">[B] each row's length.</param>
    /// <param name="statePrevious">[B, P] h_{t-1}.</param>
    /// <param name="state">[B, P] out: h_t, or h_{t-1} on padding rows (the recurrent state).</param>
    /// <param name="output">[B, P] out: h_t, or 0 on padding rows (the layer's output).</param>
    public void ProjectionForward(AcceleratorStream s, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> statePrevious, ArrayView<float> state, ArrayView<float> output)
    {
        long n = (long)p.Batch * p.Projection;
        Check(projection.Length == n && lengths.Length == p.Batch && statePrevious.Length == n && state.Length == n && output.Length == n,
            $"ProjectionForward: views do not match B={p.Batch}, P={p.Projection}.");
        runtime.ForRows(s, n, (st, i) => projectionForward(st, i, p, projection, lengths, statePrevious, state, output),
            p.Batch, b => LstmHost.ProjectionForward(b, p, projection, lengths, statePrevious, state, output));
    }

    /// <summary>
    /// Backward of <see cref="ProjectionForward"/>; one thread per (b, p). On real rows the gradient
    /// reaching h_t (output gradient + the carried state gradient) goes to the pre-clip projection and
    /// the carry is zeroed, ready for the recurrent GEMM to add dL/dh_{t-1} (beta = 1); on padding rows
    /// the carry passes through untouched (h_t was h_{t-1}).
    /// </summary>
    /// <param name="projection">[B, P] the saved pre-clip projection.</param>
    /// <param name="outputGradient">[B, P] dL/doutput_t (ignored on padding rows).</param>
    /// <param name="stateGradient">[B, P] in: dL/dh_t from step t+1; out: 0 on real rows, unchanged on padding rows.</param>
    /// <param name="projectionGradient">[B, P] out: dL/d(m_t W_p); 0 where clipped and on padding rows.</param>
    public void ProjectionBackward(AcceleratorStream s, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> outputGradient, ArrayView<float> stateGradient, ArrayView<float> projectionGradient)
    {
        long n = (long)p.Batch * p.Projection;
        Check(projection.Length == n && lengths.Length == p.Batch && outputGradient.Length == n && stateGradient.Length == n
              && projectionGradient.Length == n, $"ProjectionBackward: views do not match B={p.Batch}, P={p.Projection}.");
        runtime.ForRows(s, n, (st, i) => projectionBackward(st, i, p, projection, lengths, outputGradient, stateGradient, projectionGradient),
            p.Batch, b => LstmHost.ProjectionBackward(b, p, projection, lengths, outputGradient, stateGradient, projectionGradient));
    }

    /// <summary>
    /// Backward of <see cref="CellForward"/>: all four gate gradients of one (b, h) in one thread.
    /// </summary>
    /// <param name="gates">[B, 4H] the saved activations i, j, f, o.</param>
    /// <param name="cellPrevious">[B, H] saved c_{t-1}.</param>
    /// <param name="cell">[B, H] saved c_t.</param>
    /// <param name="cellOutputGradient">[B, H] dL/dm_t.</param>
    /// <param name="cellGradient">[B, H] in: dL/dc_t from step t+1; out: dL/dc_{t-1} (unchanged on padding rows).</param>
    /// <param name="gateGradient">[B, 4H] out: dL/d(pre-activations) i, j, f, o; 0 on padding rows.</param>
    public void CellBackward(AcceleratorStream s, LstmStepParams p, ArrayView<float> gates, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutputGradient, ArrayView<float> cellGradient,
        ArrayView<float> gateGradient)
    {
        long n = (long)p.Batch * p.Hidden;
        Check(gates.Length == 4 * n && lengths.Length == p.Batch && cellPrevious.Length == n && cell.Length == n
              && cellOutputGradient.Length == n && cellGradient.Length == n && gateGradient.Length == 4 * n,
            $"CellBackward: views do not match B={p.Batch}, H={p.Hidden}.");
        runtime.ForRows(s, n, (st, i) => cellBackward(st, i, p, gates, lengths, cellPrevious, cell, cellOutputGradient, cellGradient, gateGradient),
            p.Batch, b => LstmHost.CellBackward(b, p, gates, lengths, cellPrevious, cell, cellOutputGradient, cellGradient, gateGradient));
    }

    /// <summary>
    /// dst[t, b, :] = src[length_b - 1 - t, b, :] for t &lt; length_b, else 0: each row reversed within
    /// its own length (the backward LSTM direction's view of a batch). Its own inverse on real positions.
    /// Lengths must lie in [0, T] (checked by the caller on the host).
    /// </summary>
    /// <param name="src">[T, B, D].</param>
    /// <param name="dst">[T, B, D], not aliasing src.</param>
    public void ReverseWithinLength(AcceleratorStream s, ReverseParams p, ArrayView<float> src, ArrayView<int> lengths, ArrayView<float> dst)
    {
        long n = (long)p.Steps * p.Batch * p.Dim;
        Check(src.Length == n && dst.Length == n && lengths.Length == p.Batch,
            $"ReverseWithinLength: views do not match T={p.Steps}, B={p.Batch}, D={p.Dim}.");
        runtime.For(s, n, (st, i) => reverseWithinLength(st, i, p, src, lengths, dst), i => ReverseWithinLengthKernel(i, p, src, lengths, dst));
    }

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    // KernelMath, not XMath: on CUDA XMath.Tanh is tanh.approx.f32 (2^-11 relative), see KernelMath.
    static float Sigmoid(float x) => KernelMath.Sigmoid(x);

    public static void CellForwardKernel(Index1D i, LstmStepParams p, ArrayView<float> gates, ArrayView<float> bias, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutput)
    {
        int h = p.Hidden, b = i / h, k = i - b * h;
        if (p.Step >= lengths[b])
        {
            cell[i] = cellPrevious[i];
            cellOutput[i] = 0f;
            return;
        }
        long row = (long)b * 4 * h;
        float input = Sigmoid(gates[row + k] + bias[k]);
        float candidate = KernelMath.Tanh(gates[row + h + k] + bias[h + k]);
        float forget = Sigmoid(gates[row + 2 * h + k] + bias[2 * h + k] + p.ForgetBias);
        float output = Sigmoid(gates[row + 3 * h + k] + bias[3 * h + k]);
        float c = LstmElement.Clip(LstmElement.CellBeforeClip(input, candidate, forget, cellPrevious[i]), p.CellClip);
        gates[row + k] = input;
        gates[row + h + k] = candidate;
        gates[row + 2 * h + k] = forget;
        gates[row + 3 * h + k] = output;
        cell[i] = c;
        cellOutput[i] = output * KernelMath.Tanh(c);
    }

    public static void ProjectionForwardKernel(Index1D i, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> statePrevious, ArrayView<float> state, ArrayView<float> output)
    {
        if (p.Step >= lengths[i / p.Projection])
        {
            state[i] = statePrevious[i];
            output[i] = 0f;
            return;
        }
        float value = LstmElement.Clip(projection[i], p.ProjectionClip);
        state[i] = value;
        output[i] = value;
    }

    public static void ProjectionBackwardKernel(Index1D i, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> outputGradient, ArrayView<float> stateGradient, ArrayView<float> projectionGradient)
    {
        if (p.Step >= lengths[i / p.Projection])
        {
            projectionGradient[i] = 0f;
            return;
        }
        projectionGradient[i] = LstmElement.ProjectionGradient(projection[i], outputGradient[i] + stateGradient[i], p.ProjectionClip);
        stateGradient[i] = 0f;
    }

    public static void CellBackwardKernel(Index1D i, LstmStepParams p, ArrayView<float> gates, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutputGradient, ArrayView<float> cellGradient,
        ArrayView<float> gateGradient)
    {
        int h = p.Hidden, b = i / h, k = i - b * h;
        long row = (long)b * 4 * h;
        if (p.Step >= lengths[b])
        {
            gateGradient[row + k] = 0f;
            gateGradient[row + h + k] = 0f;
            gateGradient[row + 2 * h + k] = 0f;
            gateGradient[row + 3 * h + k] = 0f;
            return;
        }
        // The clip decision is recomputed from the saved activations with the forward's expression.
        var g = LstmElement.CellBackward(gates[row + k], gates[row + h + k], gates[row + 2 * h + k], gates[row + 3 * h + k], cellPrevious[i],
            KernelMath.Tanh(cell[i]), cellOutputGradient[i], cellGradient[i], p.CellClip);
        gateGradient[row + k] = g.Input;
        gateGradient[row + h + k] = g.Candidate;
        gateGradient[row + 2 * h + k] = g.Forget;
        gateGradient[row + 3 * h + k] = g.Output;
        cellGradient[i] = g.CellPrevious;
    }

    public static void ReverseWithinLengthKernel(Index1D i, ReverseParams p, ArrayView<float> src, ArrayView<int> lengths, ArrayView<float> dst)
    {
        long position = i / p.Dim;
        int d = (int)(i - position * p.Dim);
        int t = (int)(position / p.Batch), b = (int)(position - (long)t * p.Batch);
        int length = lengths[b];
        dst[i] = t < length ? src[((long)(length - 1 - t) * p.Batch + b) * p.Dim + d] : 0f;
    }
}

/// <summary>
/// Sizes and constants of one LSTM step: batch B, cell size H, projection size P, the step index t
/// (rows with t &gt;= length are padding), the clips (0: none) and TensorFlow's forget bias.
/// </summary>
public readonly record struct LstmStepParams(int Batch, int Hidden, int Projection, int Step, float CellClip, float ProjectionClip, float ForgetBias);

/// <summary>Sizes of a [T, B, D] time-major tensor for <see cref="LstmKernels.ReverseWithinLength"/>.</summary>
public readonly record struct ReverseParams(int Steps, int Batch, int Dim);
