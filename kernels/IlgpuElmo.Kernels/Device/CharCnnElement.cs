using ILGPU.Algorithms;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The char CNN's per-element maths, written once: <see cref="CharCnnKernels"/>' kernels call it per thread
/// and <see cref="CharCnnHost"/>'s scalar loops per element; the host's vector loops are the only other copy
/// (the same operations in the same order).
/// </summary>
public static class CharCnnElement
{
    /// <summary>The max-pool's comparison: strictly greater, so ties (and NaNs) keep the earlier position.</summary>
    public static bool Improves(float candidate, float best) => candidate > best;

    /// <summary>
    /// The activation after the max-pool and bias (<see cref="CharCnnKernels.Relu"/> or <see cref="CharCnnKernels.Tanh"/>);
    /// tanh is <see cref="KernelMath"/>'s, not XMath's (tanh.approx on CUDA).
    /// </summary>
    public static float Activate(float pre, int activation) => activation == CharCnnKernels.Tanh ? KernelMath.Tanh(pre) : XMath.Max(pre, 0f);

    /// <summary>The highway gate t = sigmoid(x W_carry + b_carry) from its pre-activation: <see cref="KernelMath"/>'s logistic function (XMath's exp is ex2.approx on CUDA).</summary>
    public static float Gate(float pre) => KernelMath.Sigmoid(pre);

    /// <summary>The first window offset j whose window covers character c: windows start at c - j in [0, P).</summary>
    public static int FirstOffset(in CharConvParams p, int c) => XMath.Max(0, c - p.Positions + 1);

    /// <summary>The last window offset j whose window covers character c.</summary>
    public static int LastOffset(in CharConvParams p, int c) => XMath.Min(p.Width - 1, c);

    /// <summary>Highway output y = t * transform + (1 - t) * x for gate t.</summary>
    public static float HighwayOutput(float gate, float transform, float x) => gate * transform + (1f - gate) * x;

    /// <summary>Highway backward for one element from dy, the saved gate and transform, and x.</summary>
    public static HighwayGradient HighwayBackward(float dy, float gate, float transform, float x)
    {
        float dGate = dy * (transform - x);
        return new HighwayGradient(dGate * gate * (1f - gate), transform > 0f ? dy * gate : 0f, dy * (1f - gate));
    }
}

/// <summary>One highway element's gradients: the carry (gate) and transform pre-activations, and x's direct part dy (1 - t).</summary>
public readonly record struct HighwayGradient(float CarryPre, float TransformPre, float X);
