using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="ReductionKernels"/>' kernels, each named after the kernel it stands
/// for. A block's partial is a contiguous chunk instead of a grid stride, and every sum runs in index order in
/// float64 (rounded to float32 once), so results are deterministic but not bit-equal to a device's float32
/// trees (HostParityTests states the bounds); the clip scale is the kernels' own <see cref="ReductionKernels.ClipScale"/>.
/// </summary>
static class ReductionHost
{
    /// <summary><see cref="ReductionKernels.SquaredBlocksKernel"/>'s partial b of <paramref name="blocks"/>: squares summed in order.</summary>
    public static unsafe float SquaredBlocks(ArrayView<float> x, int blocks, int b)
    {
        long start = x.Length * b / blocks, end = x.Length * (b + 1) / blocks;
        float* data = (float*)x.LoadEffectiveAddressAsPtr();
        double sum = 0;
        for (long i = start; i < end; i++) sum += (double)data[i] * data[i];
        return (float)sum;
    }

    /// <summary><see cref="ReductionKernels.SquaredRowBlocksKernel"/>'s partial b over the n elements of the listed rows.</summary>
    public static float SquaredRowBlocks(ArrayView<float> table, ArrayView<int> ids, int width, long n, int blocks, int b)
    {
        long start = n * b / blocks, end = n * (b + 1) / blocks;
        double sum = 0;
        for (long i = start; i < end; i++)
        {
            double v = table[RowSet.ElementOf(ids, width, (int)i)];
            sum += v * v;
        }
        return (float)sum;
    }

    /// <summary><see cref="ReductionKernels.FinishNormKernel"/>: normAndScale = [sqrt(sum of partials), clip scale].</summary>
    public static void FinishNorm(ArrayView<float> partials, float clipNorm, ArrayView<float> normAndScale)
    {
        float norm = (float)Math.Sqrt(Sum(partials));
        normAndScale[0] = norm;
        normAndScale[1] = ReductionKernels.ClipScale(norm, clipNorm);
    }

    /// <summary><see cref="ReductionKernels.SumScaledKernel"/>: output[0] = scale * (sum of values).</summary>
    public static void SumScaled(ArrayView<float> values, float scale, ArrayView<float> output) => output[0] = (float)(scale * Sum(values));

    /// <summary>The values' sum in index order, in double.</summary>
    static double Sum(ArrayView<float> values)
    {
        double total = 0;
        for (long i = 0; i < values.Length; i++) total += values[i];
        return total;
    }
}
