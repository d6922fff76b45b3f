using ILGPU.Algorithms;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The softmax's per-row and per-element maths, written once for <see cref="SoftmaxKernels"/>' kernels and
/// <see cref="SoftmaxHost"/>'s bodies: running (max, sum of exp) pairs, log-sum-exp, loss and gradient.
/// Where exp or log appear they are a type argument: the kernels pass <see cref="KernelExpLog"/>, the host
/// bodies MathF (their results as they have always been); the host's vectorised full-softmax row is the only
/// other copy of the gradient.
/// </summary>
public static class SoftmaxElement
{
    /// <summary>True for a class id in [0, classes); other rows are ignored (loss 0, gradient 0).</summary>
    public static bool IsTarget(int t, int classes) => t >= 0 && t < classes;

    /// <summary>Online update of (max, sum of exp(x - max)) with one value (KernelMath's exp on every path).</summary>
    public static void Accumulate(float x, ref float max, ref float sum)
    {
        if (x > max)
        {
            sum = sum * KernelMath.Exp(max - x) + 1f;
            max = x;
        }
        else sum += KernelMath.Exp(x - max);
    }

    /// <summary>Merges the pair (max0, sum0) into the running pair (max, sum): max0's share first.</summary>
    public static void Merge<TMath>(float max0, float sum0, ref float max, ref float sum) where TMath : struct, IExpLog
    {
        float m = XMath.Max(max0, max);
        sum = sum0 * default(TMath).Exp(max0 - m) + sum * default(TMath).Exp(max - m);
        max = m;
    }

    /// <summary>log(sum of exp(x)) from the row's (max, sum of exp(x - max)).</summary>
    public static float LogSumExp<TMath>(float max, float sum) where TMath : struct, IExpLog => max + default(TMath).Log(sum);

    /// <summary>A row's loss -log p(target) = lse - target logit; 0 for an ignored row.</summary>
    public static float Loss(bool valid, float lse, float targetLogit) => valid ? lse - targetLogit : 0f;

    /// <summary>One logit's gradient scale * (softmax - onehot).</summary>
    public static float Gradient<TMath>(float scale, float logit, float lse, bool isTarget) where TMath : struct, IExpLog =>
        scale * (default(TMath).Exp(logit - lse) - (isTarget ? 1f : 0f));

    /// <summary>A sampled logit with the log expected count subtracted (the sampled softmax's correction).</summary>
    public static float SampledLogit(float logit, float bias, float logQ) => logit + bias - logQ;
}
