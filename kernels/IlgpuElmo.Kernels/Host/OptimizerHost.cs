using System.Numerics;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="OptimizerKernels"/>' updates over a contiguous run of elements
/// (a chunk of a dense parameter, or one touched row of a table), named after the update they stand for
/// (the dense and row kernels share one): <see cref="OptimizerElement"/>'s operations in its order, a
/// vector of elements at a time, and the element function itself for the tail, so every result equals
/// the kernel's bit for bit.
/// </summary>
static class OptimizerHost
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
            var u = OptimizerElement.Adam(p, weight[k], grad[k], gradScale, m[k], v[k]);
            m[k] = u.M;
            v[k] = u.V;
            weight[k] = u.Weight;
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
            var u = OptimizerElement.Adagrad(p, weight[k], grad[k], gradScale, accumulator[k]);
            accumulator[k] = u.Accumulator;
            weight[k] = u.Weight;
        }
        grad.Clear();
    }
}
