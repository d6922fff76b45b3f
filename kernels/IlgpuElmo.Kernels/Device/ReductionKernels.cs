using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Sums that stay on the device: the global gradient norm and clip scale, and a vector's sum into one
/// scalar (a step's loss). Two levels in a fixed order, so results are the same every run on a device:
/// <list type="bullet">
/// <item>block partials: a grid of <see cref="BlocksFor"/> groups strides over the data (thread t of block g
/// reads g*G + t, then every G*grid elements: neighbouring threads read neighbouring floats, coalesced),
/// each group folds its threads' sums in a shared-memory tree and writes one partial;</item>
/// <item>a finish: one group sums the partials the same way and writes the result.</item>
/// </list>
/// No atomics. Host execution (<see cref="ReductionHost"/>) computes each block's partial over a contiguous
/// chunk instead (same block count, fixed order, in float64), so it is deterministic too, though not
/// bit-equal to a GPU's.
/// </summary>
public sealed class ReductionKernels
{
    /// <summary>Threads per group on GPUs; the CPU accelerator's maximum (16) there.</summary>
    const int MaxGroup = 256;

    /// <summary>Blocks per streaming multiprocessor for the partials: enough to fill the device, few to finish.</summary>
    const int BlocksPerMultiprocessor = 8;

    readonly KernelRuntime runtime;
    readonly int group, maxBlocks;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>> squaredBlocks;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>> squaredRowBlocks;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, float, ArrayView<float>> finishNorm;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, float, ArrayView<float>> sumScaled;

    public ReductionKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        maxBlocks = Math.Max(1, runtime.Accelerator.NumMultiprocessors * BlocksPerMultiprocessor);
        var acc = runtime.Accelerator;
        squaredBlocks = acc.LoadKernel<ArrayView<float>, ArrayView<float>>(SquaredBlocksKernel);
        squaredRowBlocks = acc.LoadKernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>>(SquaredRowBlocksKernel);
        finishNorm = acc.LoadKernel<ArrayView<float>, float, ArrayView<float>>(FinishNormKernel);
        sumScaled = acc.LoadKernel<ArrayView<float>, float, ArrayView<float>>(SumScaledKernel);
        group = KernelRuntime.PowerOfTwoGroup(MaxGroup, runtime.MaxGroupSizeOf(squaredBlocks, squaredRowBlocks, finishNorm, sumScaled));
    }

    /// <summary>Threads per group the kernels use here (a power of two).</summary>
    public int GroupSize => group;

    /// <summary>How many block partials a reduction over <paramref name="n"/> elements writes (at least 1).</summary>
    public int BlocksFor(long n) => (int)Math.Clamp((n + group - 1) / group, 1, maxBlocks);

    /// <summary>
    /// partials[b] = the squares of x summed over block b's share, one block per element of partials
    /// (<see cref="BlocksFor"/>(x.Length) fills the device; more blocks than data write 0).
    /// </summary>
    public void SquaredNormBlocks(AcceleratorStream s, ArrayView<float> x, ArrayView<float> partials)
    {
        int blocks = (int)partials.Length;
        Check(blocks >= 1, "SquaredNormBlocks: need at least one partial.");
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            KernelRuntime.HostRows(blocks, x.Length, b => partials[b] = ReductionHost.SquaredBlocks(x, blocks, b));
            return;
        }
        squaredBlocks(s, Config(blocks), x, partials);
    }

    /// <summary>
    /// The same over the listed rows of a table: element i of (touched row, column) is
    /// table[ids[i / width] * width + i % width], one block per element of partials (no rows: zeros).
    /// </summary>
    public void SquaredNormRowBlocks(AcceleratorStream s, RowSet rows, ArrayView<float> table, ArrayView<float> partials)
    {
        long n = (long)rows.Count * rows.Width;
        int blocks = (int)partials.Length;
        Check(blocks >= 1, "SquaredNormRowBlocks: need at least one partial.");
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            var ids = rows.Ids;
            int width = rows.Width;
            KernelRuntime.HostRows(blocks, n, b => partials[b] = ReductionHost.SquaredRowBlocks(table, ids, width, n, blocks, b));
            return;
        }
        squaredRowBlocks(s, Config(blocks), table, rows.Ids, rows.Width, rows.Count, partials);
    }

    /// <summary>
    /// normAndScale[0] = sqrt(sum of partials), normAndScale[1] = the global-norm clip scale
    /// (tf.clip_by_global_norm: clip / max(norm, clip); 1 when clipNorm &lt;= 0; NaN when the norm is not finite).
    /// </summary>
    public void FinishNorm(AcceleratorStream s, ArrayView<float> partials, float clipNorm, ArrayView<float> normAndScale)
    {
        Check(normAndScale.Length == 2, "FinishNorm: the output holds [norm, scale].");
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            ReductionHost.FinishNorm(partials, clipNorm, normAndScale);
            return;
        }
        finishNorm(s, Config(1), partials, clipNorm, normAndScale);
    }

    /// <summary>output[0] = scale * (sum of values), in one group (a step's loss from its per-row losses).</summary>
    public void SumScaled(AcceleratorStream s, ArrayView<float> values, float scale, ArrayView<float> output)
    {
        Check(output.Length == 1, "SumScaled: the output is one element.");
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            ReductionHost.SumScaled(values, scale, output);
            return;
        }
        sumScaled(s, Config(1), values, scale, output);
    }

    KernelConfig Config(int blocks) => new(new Index1D(blocks), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group));

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    /// <summary>tf.clip_by_global_norm's factor for a norm: NaN propagates so the trainer can stop.</summary>
    public static float ClipScale(float norm, float clipNorm)
    {
        if (XMath.IsNaN(norm) || XMath.IsInfinity(norm)) return float.NaN;
        return clipNorm <= 0f || norm <= clipNorm ? 1f : clipNorm / norm;
    }

    /// <summary>The group's values summed in a shared-memory tree (fixed order); every thread gets the total.</summary>
    static float GroupSum(float value)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier();
        return total;
    }

    public static void SquaredBlocksKernel(ArrayView<float> x, ArrayView<float> partials)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        float sum = 0f;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < x.Length; i += stride)
        {
            float v = x[i];
            sum += v * v;
        }
        float total = GroupSum(sum);
        if (Group.IdxX == 0) partials[Grid.IdxX] = total;
    }

    public static void SquaredRowBlocksKernel(ArrayView<float> table, ArrayView<int> ids, int width, int count, ArrayView<float> partials)
    {
        long n = (long)count * width, stride = (long)Grid.DimX * Group.DimX;
        float sum = 0f;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = table[RowSet.ElementOf(ids, width, (int)i)];
            sum += v * v;
        }
        float total = GroupSum(sum);
        if (Group.IdxX == 0) partials[Grid.IdxX] = total;
    }

    public static void FinishNormKernel(ArrayView<float> partials, float clipNorm, ArrayView<float> normAndScale)
    {
        float sum = 0f;
        for (long i = Group.IdxX; i < partials.Length; i += Group.DimX) sum += partials[i];
        float total = GroupSum(sum);
        if (Group.IdxX != 0) return;
        float norm = XMath.Sqrt(total);
        normAndScale[0] = norm;
        normAndScale[1] = ClipScale(norm, clipNorm);
    }

    public static void SumScaledKernel(ArrayView<float> values, float scale, ArrayView<float> output)
    {
        float sum = 0f;
        for (long i = Group.IdxX; i < values.Length; i += Group.DimX) sum += values[i];
        float total = GroupSum(sum);
        if (Group.IdxX == 0) output[0] = scale * total;
    }
}
