using System.Numerics.Tensors;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="EmbeddingKernels"/>' scatter-adds, each named after the kernel it
/// stands for. Both add each row's positions in ascending order, so every run gives the same bits;
/// <see cref="SegmentedScatterAdd"/> is the kernel's order exactly (bit-equal), <see cref="ScatterAdd"/>
/// replaces the kernel's atomics (any order) by that fixed order.
/// </summary>
static class EmbeddingHost
{
    /// <summary>
    /// <see cref="EmbeddingKernels.ScatterAddKernel"/> for the destination rows [firstRow, endRow): tableGrad[ids[i], :] +=
    /// gradOutput[i, :] for the positions i, in ascending order, whose id lies in that range.
    /// </summary>
    public static void ScatterAdd(ArrayView<float> gradOutput, int dim, ArrayView<int> ids, ArrayView<float> tableGrad, long firstRow, long endRow)
    {
        var idSpan = ids.AsHostSpan();
        var source = gradOutput.AsHostSpan();
        for (int i = 0; i < idSpan.Length; i++)
        {
            int id = idSpan[i];
            if (id < firstRow || id >= endRow) continue;
            var target = tableGrad.SubView((long)id * dim, dim).AsHostSpan();
            TensorPrimitives.Add(target, source.Slice(i * dim, dim), target);
        }
    }

    /// <summary>
    /// <see cref="EmbeddingKernels.SegmentedScatterAddKernel"/> for segment u, row-contiguous (a thread per column
    /// would stride through memory): the segment's positions summed in ascending order, then added on.
    /// </summary>
    public static unsafe void SegmentedScatterAdd(int u, ArrayView<float> gradOutput, int dim, SegmentViews segments, ArrayView<float> tableGrad)
    {
        int* sorted = (int*)segments.SortedPositions.LoadEffectiveAddressAsPtr();
        int* starts = (int*)segments.Starts.LoadEffectiveAddressAsPtr();
        int* rows = (int*)segments.Rows.LoadEffectiveAddressAsPtr();
        float* grad = (float*)gradOutput.LoadEffectiveAddressAsPtr();
        float* target = (float*)tableGrad.LoadEffectiveAddressAsPtr() + (long)rows[u] * dim;
        Span<float> sum = dim <= 1024 ? stackalloc float[dim] : new float[dim];
        sum.Clear();
        for (int k = starts[u]; k < starts[u + 1]; k++)
        {
            float* row = grad + (long)sorted[k] * dim;
            for (int c = 0; c < dim; c++) sum[c] += row[c];
        }
        for (int c = 0; c < dim; c++) target[c] += sum[c];
    }
}
