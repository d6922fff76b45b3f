using System.Numerics;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's versions of <see cref="OptimizerKernels"/>' updates over a contiguous run of elements
/// (a chunk of a dense parameter, or one touched row of a table): the same operations in the same order
/// as the kernels' per-element AdamAt/AdagradAt, a vector of elements at a time, so every result equals
/// the kernel's bit for bit (no fused multiply-adds on either side).
/// </summary>
static class OptimizerHostRows
{
    public static void Adam(in OptimizerStep p, Span<float> weight, Span<float> grad, Span<float> m, Span<float> v, float gradScale)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(gradScale);
            Vector<float> beta1 = new(p.Beta1), beta2 = new(p.Beta2), rest1 = new(1f - p.Beta1), rest2 = new(1f - p.Beta2);
            Vector<float> rate = new(p.LearningRate), correction1 = new(p.BiasCorrection1), correction2 = new(p.BiasCorrection2), epsilon = new(p.Epsilon);
            for (; k <= weight.Length - Vector<float>.Count; k += Vector<float>.Count)
            {
                var g = new Vector<float>(grad[k..]) * scale;
                var mi = beta1 * new Vector<float>(m[k..]) + rest1 * g;
                var vi = beta2 * new Vector<float>(v[k..]) + rest2 * g * g;
                mi.CopyTo(m[k..]);
                vi.CopyTo(v[k..]);
                (new Vector<float>(weight[k..]) - rate * (mi / correction1) / (Vector.SquareRoot(vi / correction2) + epsilon)).CopyTo(weight[k..]);
            }
        }
        for (; k < weight.Length; k++)
        {
            float g = grad[k] * gradScale;
            float mi = p.Beta1 * m[k] + (1f - p.Beta1) * g;
            float vi = p.Beta2 * v[k] + (1f - p.Beta2) * g * g;
            m[k] = mi;
            v[k] = vi;
            weight[k] -= p.LearningRate * (mi / p.BiasCorrection1) / (MathF.Sqrt(vi / p.BiasCorrection2) + p.Epsilon);
        }
        grad.Clear();
    }

    public static void Adagrad(in OptimizerStep p, Span<float> weight, Span<float> grad, Span<float> accumulator, float gradScale)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> scale = new(gradScale), rate = new(p.LearningRate);
            for (; k <= weight.Length - Vector<float>.Count; k += Vector<float>.Count)
            {
                var g = new Vector<float>(grad[k..]) * scale;
                var a = new Vector<float>(accumulator[k..]) + g * g;
                a.CopyTo(accumulator[k..]);
                (new Vector<float>(weight[k..]) - rate * g / Vector.SquareRoot(a)).CopyTo(weight[k..]);
            }
        }
        for (; k < weight.Length; k++)
        {
            float g = grad[k] * gradScale;
            float a = accumulator[k] + g * g;
            accumulator[k] = a;
            weight[k] -= p.LearningRate * g / MathF.Sqrt(a);
        }
        grad.Clear();
    }
}
