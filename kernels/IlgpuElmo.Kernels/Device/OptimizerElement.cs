using ILGPU.Algorithms;

namespace IlgpuElmo.Kernels;

/// <summary>
/// One element's optimizer update, written once: <see cref="OptimizerKernels"/>' kernels call it per thread
/// and <see cref="OptimizerHost"/>'s scalar loops per element; the host's vector loops are the only other
/// copy (the same operations in the same order, no fused multiply-adds on either side: the same bits).
/// The gradient is first multiplied by the global-norm clip scale.
/// </summary>
public static class OptimizerElement
{
    /// <summary>Adagrad (TensorFlow's): acc += g^2; w -= lr * g / sqrt(acc).</summary>
    public static AdagradUpdate Adagrad(in OptimizerStep p, float weight, float gradient, float gradScale, float accumulator)
    {
        float g = gradient * gradScale;
        float a = accumulator + g * g;
        return new AdagradUpdate(weight - p.LearningRate * g / XMath.Sqrt(a), a);
    }

    /// <summary>Adam: m and v moments, bias corrections as given in <paramref name="p"/>.</summary>
    public static AdamUpdate Adam(in OptimizerStep p, float weight, float gradient, float gradScale, float m, float v)
    {
        float g = gradient * gradScale;
        float mi = p.Beta1 * m + (1f - p.Beta1) * g;
        float vi = p.Beta2 * v + (1f - p.Beta2) * g * g;
        return new AdamUpdate(weight - p.LearningRate * (mi / p.BiasCorrection1) / (XMath.Sqrt(vi / p.BiasCorrection2) + p.Epsilon), mi, vi);
    }
}

/// <summary>An element's weight and accumulator after an Adagrad update.</summary>
public readonly record struct AdagradUpdate(float Weight, float Accumulator);

/// <summary>An element's weight and moments after an Adam update.</summary>
public readonly record struct AdamUpdate(float Weight, float M, float V);
