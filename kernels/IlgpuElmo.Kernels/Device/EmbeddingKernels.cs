using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Row gather and scatter-add over a [V, D] table: the word-embedding lookup and its gradient, and the
/// row selection of the sampled softmax. Ids are checked on the host before launch (see callers);
/// kernels never range-check.
/// </summary>
/// <remarks>
/// Bandwidth: when D is a multiple of 4 and every view starts on a 16-byte boundary, gather moves
/// rows as 16-byte <see cref="Float4"/> structs, which ILGPU's PTX backend emits as ld/st.v4 (one
/// 128-bit access per thread instead of four 32-bit ones); consecutive threads take consecutive
/// quads of a row, so a warp reads 512 contiguous bytes and many rows are in flight at once.
/// Scatter-add comes in two modes: atomic (any order; float sums may differ in the last bits run to
/// run) and segmented, deterministic: the positions are grouped by row on the host
/// (<see cref="PlanSegments"/>, a counting sort that keeps positions in ascending order), then one
/// thread per (touched row, column) adds its row's gradients in that fixed order with no atomics.
/// The plan's unique rows are what a row-sparse optimizer update visits. Host execution runs both
/// scatter-adds as <see cref="EmbeddingHost"/>'s bodies.
/// </remarks>
public sealed class EmbeddingKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>> gather;
    readonly Action<AcceleratorStream, Index1D, ArrayView<Float4>, int, ArrayView<int>, ArrayView<Float4>> gatherWide;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>> scatterAdd;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, SegmentViews, ArrayView<float>> segmentedScatterAdd;

    public EmbeddingKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        gather = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>(GatherKernel);
        gatherWide = acc.LoadAutoGroupedKernel<Index1D, ArrayView<Float4>, int, ArrayView<int>, ArrayView<Float4>>(GatherWideKernel);
        scatterAdd = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>(ScatterAddKernel);
        segmentedScatterAdd = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, SegmentViews, ArrayView<float>>(SegmentedScatterAddKernel);
    }

    /// <summary>output[i, :] = table[ids[i], :]. table [V, dim], ids [N], output [N, dim].</summary>
    public void Gather(AcceleratorStream s, ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output)
    {
        if (output.Length != ids.Length * dim) throw new ArgumentException($"Gather: output has {output.Length} elements, expected [{ids.Length}, {dim}].");
        if (CanUseQuads(dim, table, output))
        {
            var table4 = table.Cast<Float4>();
            var output4 = output.Cast<Float4>();
            int quads = dim / 4;
            runtime.For(s, output4.Length, (st, i) => gatherWide(st, i, table4, quads, ids, output4),
                i => GatherWideKernel(i, table4, quads, ids, output4));
            return;
        }
        runtime.For(s, output.Length, (st, i) => gather(st, i, table, dim, ids, output), i => GatherKernel(i, table, dim, ids, output));
    }

    /// <summary>tableGrad[ids[i], :] += gradOutput[i, :], correct when ids repeat (atomic adds). gradOutput [N, dim].</summary>
    public void ScatterAdd(AcceleratorStream s, ArrayView<float> gradOutput, int dim, ArrayView<int> ids, ArrayView<float> tableGrad)
    {
        if (gradOutput.Length != ids.Length * dim) throw new ArgumentException($"ScatterAdd: gradient has {gradOutput.Length} elements, expected [{ids.Length}, {dim}].");
        if (runtime.RunOnHost)
        {
            // Each part owns a range of destination rows and adds its rows' positions in position order: every
            // row gets the same sums in the same order every run, for any number of parts (host execution is
            // bit-reproducible); GPU atomics add in arrival order (use SegmentedScatterAdd where that matters).
            runtime.CountLaunch();
            int parts = HostWorkers.Shared.Threads;
            long tableRows = tableGrad.Length / dim;
            KernelRuntime.HostRows(parts, gradOutput.Length, part =>
                EmbeddingHost.ScatterAdd(gradOutput, dim, ids, tableGrad, tableRows * part / parts, tableRows * (part + 1) / parts));
            return;
        }
        runtime.For(s, gradOutput.Length, (st, i) => scatterAdd(st, i, gradOutput, dim, ids, tableGrad),
            i => ScatterAddKernel(i, gradOutput, dim, ids, tableGrad));
    }

    /// <summary>
    /// Deterministic scatter-add: tableGrad[rows[u], :] += sum of gradOutput[p, :] over the positions p
    /// of segment u, added in ascending p. gradOutput [N, dim]; <paramref name="segments"/> from
    /// <see cref="PlanSegments"/> for the same N ids, uploaded; <paramref name="segmentCount"/> its count.
    /// </summary>
    public void SegmentedScatterAdd(AcceleratorStream s, ArrayView<float> gradOutput, int dim, SegmentViews segments,
        int segmentCount, ArrayView<float> tableGrad)
    {
        if (gradOutput.Length != segments.SortedPositions.Length * dim)
            throw new ArgumentException($"SegmentedScatterAdd: gradient has {gradOutput.Length} elements, expected [{segments.SortedPositions.Length}, {dim}].");
        if (segmentCount > segments.Rows.Length || segments.Starts.Length < segmentCount + 1)
            throw new ArgumentException($"SegmentedScatterAdd: {segmentCount} segments do not fit views of {segments.Rows.Length} rows and {segments.Starts.Length} starts.");
        if (segmentCount == 0) return;
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            KernelRuntime.HostRows(segmentCount, gradOutput.Length, u => EmbeddingHost.SegmentedScatterAdd(u, gradOutput, dim, segments, tableGrad));
            return;
        }
        segmentedScatterAdd(s, new Index1D((int)((long)segmentCount * dim)), gradOutput, dim, segments, tableGrad);
    }

    /// <summary>
    /// Groups positions by id on the host (counting sort, stable): <paramref name="sortedPositions"/> [N]
    /// lists positions row by row in ascending order, segment u covers
    /// sortedPositions[starts[u] .. starts[u+1]) and belongs to row rows[u] (rows ascending, unique).
    /// <paramref name="counts"/> is scratch of at least vocabularySize + 1 ints. Returns the number of
    /// segments (unique rows). Ids must already be range-checked.
    /// </summary>
    public static int PlanSegments(ReadOnlySpan<int> ids, int vocabularySize, Span<int> counts, Span<int> sortedPositions,
        Span<int> starts, Span<int> rows)
    {
        var bucket = counts[..(vocabularySize + 1)];
        bucket.Clear();
        foreach (int id in ids) bucket[id + 1]++;
        for (int r = 0; r < vocabularySize; r++) bucket[r + 1] += bucket[r];
        for (int p = 0; p < ids.Length; p++) sortedPositions[bucket[ids[p]]++] = p;
        // bucket[r] is now the end of row r's run; walk the sorted positions to list runs.
        int segments = 0;
        for (int k = 0; k < ids.Length; k++)
        {
            int row = ids[sortedPositions[k]];
            if (k == 0 || row != rows[segments - 1])
            {
                rows[segments] = row;
                starts[segments] = k;
                segments++;
            }
        }
        starts[segments] = ids.Length;
        return segments;
    }

    /// <summary>
    /// Quads only when rows are whole quads and every view starts on a quad of its buffer (vector IO needs
    /// 16-byte alignment): decided from the views' element offsets, because buffers start at least 16-byte
    /// aligned on every backend (cuMemAlloc: 256 bytes; OpenCL: the device's base address alignment, 128
    /// bytes or more) while a view's address on the host is not a device address on OpenCL.
    /// </summary>
    public static bool CanUseQuads(int dim, ArrayView<float> a, ArrayView<float> b) =>
        dim % 4 == 0 && a.Length > 0 && b.Length > 0 && StartsOnQuad(a) && StartsOnQuad(b);

    static bool StartsOnQuad(ArrayView<float> view) => ((IContiguousArrayView)view).Index % 4 == 0;

    public static void GatherKernel(Index1D i, ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output)
    {
        int row = i / dim, col = i - row * dim;
        output[i] = table[(long)ids[row] * dim + col];
    }

    /// <summary>Thread i moves quad i of the output: row i / quads, quad i % quads of that row.</summary>
    public static void GatherWideKernel(Index1D i, ArrayView<Float4> table, int quads, ArrayView<int> ids, ArrayView<Float4> output)
    {
        int row = i / quads, col = i - row * quads;
        output[i] = table[(long)ids[row] * quads + col];
    }

    public static void ScatterAddKernel(Index1D i, ArrayView<float> gradOutput, int dim, ArrayView<int> ids, ArrayView<float> tableGrad)
    {
        int row = i / dim, col = i - row * dim;
        long at = (long)ids[row] * dim + col;
        float value = gradOutput[i];
        // ILGPU's CPU and OpenCL atomics are compare-and-swap loops that never finish on NaN (NaN != NaN):
        // a diverged gradient is stored plainly, and training stops on it at the next norm check.
        if (float.IsNaN(value) || float.IsNaN(tableGrad[at])) tableGrad[at] = float.NaN;
        else Atomic.Add(ref tableGrad[at], value);
    }

    /// <summary>Thread (u, col): one touched row's column, its positions summed in ascending order.</summary>
    public static void SegmentedScatterAddKernel(Index1D i, ArrayView<float> gradOutput, int dim, SegmentViews segments, ArrayView<float> tableGrad)
    {
        int u = i / dim, col = i - u * dim;
        float sum = 0f;
        for (int k = segments.Starts[u]; k < segments.Starts[u + 1]; k++)
            sum += gradOutput[(long)segments.SortedPositions[k] * dim + col];
        tableGrad[(long)segments.Rows[u] * dim + col] += sum;
    }
}

/// <summary>Four floats moved as one 16-byte access (ld/st.v4 on CUDA when the view is 16-byte aligned).</summary>
public struct Float4
{
    public float X, Y, Z, W;
}

/// <summary>
/// A segment plan on the device (see <see cref="EmbeddingKernels.PlanSegments"/>): SortedPositions [N],
/// Starts [U+1] into it, Rows [U] the unique rows.
/// </summary>
public readonly record struct SegmentViews(ArrayView<int> SortedPositions, ArrayView<int> Starts, ArrayView<int> Rows);
