using ILGPU.Algorithms;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The LSTM cell's maths for one (b, k), written once: <see cref="LstmKernels"/>' kernels call it per
/// thread and <see cref="LstmHost"/>'s scalar loops per element; the host's vector loops are the only
/// other copy (same operations in the same order, so the same bits). Gates i, j, f, o as in
/// <see cref="LstmKernels"/>; a clip of 0 means none.
/// </summary>
public static class LstmElement
{
    /// <summary>clip(x) to [-clip, clip]; clip 0: x.</summary>
    public static float Clip(float x, float clip) => clip > 0f ? XMath.Clamp(x, -clip, clip) : x;

    /// <summary>True where a clip engaged, so no gradient passes (TensorFlow's clip_by_value).</summary>
    public static bool Clipped(float x, float clip) => clip > 0f && XMath.Abs(x) > clip;

    /// <summary>c_t before its clip: f c_{t-1} + i j (also how backward recomputes the clip decision).</summary>
    public static float CellBeforeClip(float input, float candidate, float forget, float cellPrevious) =>
        forget * cellPrevious + input * candidate;

    /// <summary>dL/d(m_t W_p): the gradient reaching h_t, or 0 where the projection clip engaged.</summary>
    public static float ProjectionGradient(float projection, float gradient, float projectionClip) =>
        Clipped(projection, projectionClip) ? 0f : gradient;

    /// <summary>
    /// Backward of the cell for one (b, k) from the saved activations, c_{t-1}, tanh(c_t), dL/dm_t and the
    /// carried dL/dc_t: the four gate gradients (with respect to the pre-activations) and dL/dc_{t-1}.
    /// </summary>
    public static LstmCellGradient CellBackward(float input, float candidate, float forget, float output, float cellPrevious,
        float tanhCell, float cellOutputGradient, float cellGradient, float cellClip)
    {
        float dc = cellGradient + cellOutputGradient * output * (1f - tanhCell * tanhCell);
        if (Clipped(CellBeforeClip(input, candidate, forget, cellPrevious), cellClip)) dc = 0f;
        return new LstmCellGradient(
            dc * candidate * input * (1f - input),
            dc * input * (1f - candidate * candidate),
            dc * cellPrevious * forget * (1f - forget),
            cellOutputGradient * tanhCell * output * (1f - output),
            dc * forget);
    }
}

/// <summary>One (b, k)'s cell gradients: the gates' pre-activations i, j, f, o and the carried dL/dc_{t-1}.</summary>
public readonly record struct LstmCellGradient(float Input, float Candidate, float Forget, float Output, float CellPrevious);
