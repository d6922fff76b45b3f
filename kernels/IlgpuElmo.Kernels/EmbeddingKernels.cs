using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Row gather and scatter-add over a [V, D] table: the word-embedding lookup and its gradient, and the
/// row selection of the sampled softmax. Ids are checked on the host before launch (see callers);
/// kernels never range-check.
/// </summary>
public sealed class EmbeddingKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>> gather;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>> scatterAdd;

    public EmbeddingKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        gather = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>(GatherKernel);
        scatterAdd = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>(ScatterAddKernel);
    }

    /// <summary>output[i, :] = table[ids[i], :]. table [V, dim], ids [N], output [N, dim].</summary>
    public void Gather(AcceleratorStream s, ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output)
    {
        if (output.Length != ids.Length * dim) throw new ArgumentException($"Gather: output has {output.Length} elements, expected [{ids.Length}, {dim}].");
        runtime.For(s, output.Length, (st, i) => gather(st, i, table, dim, ids, output), i => GatherKernel(i, table, dim, ids, output));
    }

    /// <summary>tableGrad[ids[i], :] += gradOutput[i, :], correct when ids repeat (atomic adds). gradOutput [N, dim].</summary>
    public void ScatterAdd(AcceleratorStream s, ArrayView<float> gradOutput, int dim, ArrayView<int> ids, ArrayView<float> tableGrad)
    {
        if (gradOutput.Length != ids.Length * dim) throw new ArgumentException($"ScatterAdd: gradient has {gradOutput.Length} elements, expected [{ids.Length}, {dim}].");
        runtime.For(s, gradOutput.Length, (st, i) => scatterAdd(st, i, gradOutput, dim, ids, tableGrad),
            i => ScatterAddKernel(i, gradOutput, dim, ids, tableGrad));
    }

    public static void GatherKernel(Index1D i, ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output)
    {
        int row = i / dim, col = i - row * dim;
        output[i] = table[(long)ids[row] * dim + col];
    }

    public static void ScatterAddKernel(Index1D i, ArrayView<float> gradOutput, int dim, ArrayView<int> ids, ArrayView<float> tableGrad)
    {
        int row = i / dim, col = i - row * dim;
        Atomic.Add(ref tableGrad[(long)ids[row] * dim + col], gradOutput[i]);
    }
}
