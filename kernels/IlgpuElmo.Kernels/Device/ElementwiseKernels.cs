using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Small pointwise kernels every layer needs: fill, copy, axpy, scale, bias broadcast, column sums
/// (bias gradients), squared norm partials (global-norm clipping) and dropout with a counter-based RNG
/// (same mask on every device for the same seed and offset). The per-element maths is <see cref="ElementwiseElement"/>;
/// host execution runs fill, copy, axpby, column sums and dropout as <see cref="ElementwiseHost"/>'s bodies.
/// </summary>
public sealed class ElementwiseKernels
{
    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, float> fill;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> copy;
    readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, float, ArrayView<float>> axpby;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> addRowBias;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>> scaleShiftColumns;
    readonly Action<AcceleratorStream, KernelConfig, ColumnSumsParams, ArrayView<float>, ArrayView<float>, ArrayView<float>> columnSumsPartial;
    readonly Action<AcceleratorStream, Index1D, ColumnSumsParams, ArrayView<float>, ArrayView<float>> columnSumsFinish;
    readonly ConcurrentDictionary<AcceleratorStream, MemoryBuffer1D<float, Stride1D.Dense>> columnSumsScratch = new();
    readonly int columnTile, columnSlices;
    readonly Action<AcceleratorStream, Index1D, DropoutParams, ArrayView<float>, ArrayView<float>> dropout;

    public ElementwiseKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        fill = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float>(FillKernel);
        copy = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>>(CopyKernel);
        axpby = acc.LoadAutoGroupedKernel<Index1D, float, ArrayView<float>, float, ArrayView<float>>(AxpbyKernel);
        addRowBias = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(AddRowBiasKernel);
        scaleShiftColumns = acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>>(ScaleShiftColumnsKernel);
        columnSumsPartial = acc.LoadKernel<ColumnSumsParams, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ColumnSumsPartialKernel);
        columnSumsFinish = acc.LoadAutoGroupedKernel<Index1D, ColumnSumsParams, ArrayView<float>, ArrayView<float>>(ColumnSumsFinishKernel);
        // A warp's worth of neighbouring columns per group row (coalesced loads), as many row slices as the group holds.
        int group = KernelRuntime.PowerOfTwoGroup(MaxColumnSumsGroup, runtime.MaxGroupSizeOf(columnSumsPartial));
        columnTile = Math.Min(runtime.WarpSize, group);
        columnSlices = group / columnTile;
        dropout = acc.LoadAutoGroupedKernel<Index1D, DropoutParams, ArrayView<float>, ArrayView<float>>(DropoutKernel);
    }

    /// <summary>True in host execution, counting the launch a GPU would make for <paramref name="n"/> elements.</summary>
    bool HostSpanOperation(long n)
    {
        if (!runtime.RunOnHost) return false;
        if (n > 0) runtime.CountLaunch();
        return true;
    }

    /// <summary>x[i] = value.</summary>
    public void Fill(AcceleratorStream s, ArrayView<float> x, float value)
    {
        // On the host the memory-bound helpers (fill, copy, axpby) are single span operations: one vectorised
        // pass, no per-element call, no thread hand-off.
        if (HostSpanOperation(x.Length)) ElementwiseHost.Fill(x.AsHostSpan(), value);
        else runtime.For(s, x.Length, (st, i) => fill(st, i, x, value), i => FillKernel(i, x, value));
    }

    /// <summary>dst[i] = src[i]; views of equal length.</summary>
    public void Copy(AcceleratorStream s, ArrayView<float> src, ArrayView<float> dst)
    {
        Check(src.Length == dst.Length, $"Copy: source has {src.Length} elements, destination {dst.Length}.");
        if (HostSpanOperation(src.Length)) ElementwiseHost.Copy(src.AsHostSpan(), dst.AsHostSpan());
        else runtime.For(s, src.Length, (st, i) => copy(st, i, src, dst), i => CopyKernel(i, src, dst));
    }

    /// <summary>y[i] = a * x[i] + b * y[i] (with b = 0, y is not read).</summary>
    public void Axpby(AcceleratorStream s, float a, ArrayView<float> x, float b, ArrayView<float> y)
    {
        Check(x.Length == y.Length, $"Axpby: x has {x.Length} elements, y {y.Length}.");
        if (HostSpanOperation(x.Length)) ElementwiseHost.Axpby(a, x.AsHostSpan(), b, y.AsHostSpan());
        else runtime.For(s, x.Length, (st, i) => axpby(st, i, a, x, b, y), i => AxpbyKernel(i, a, x, b, y));
    }

    /// <summary>x[r, c] += bias[c] for x [rows, columns], bias [columns].</summary>
    public void AddRowBias(AcceleratorStream s, ArrayView<float> x, ArrayView<float> bias)
    {
        int columns = (int)bias.Length;
        Check(columns > 0 && x.Length % columns == 0, $"AddRowBias: {x.Length} elements are not rows of {columns}.");
        runtime.For(s, x.Length, (st, i) => addRowBias(st, i, x, columns, bias), i => AddRowBiasKernel(i, x, columns, bias));
    }

    /// <summary>x[r, c] = x[r, c] * scale[c] + shift[c] for x [rows, columns], scale and shift [columns] (a per-feature affine map).</summary>
    public void ScaleShiftColumns(AcceleratorStream s, ArrayView<float> x, ArrayView<float> scale, ArrayView<float> shift)
    {
        int columns = (int)scale.Length;
        Check(columns > 0 && shift.Length == columns && x.Length % columns == 0,
            $"ScaleShiftColumns: {x.Length} elements are not rows of {columns} (scale {scale.Length}, shift {shift.Length}).");
        runtime.For(s, x.Length, (st, i) => scaleShiftColumns(st, i, x, columns, scale, shift), i => ScaleShiftColumnsKernel(i, x, columns, scale, shift));
    }

    /// <summary>Largest group the column sums use: 256 threads on GPUs, the device maximum on the CPU accelerator.</summary>
    const int MaxColumnSumsGroup = 256;

    /// <summary>Rows a thread sums before the rows are split over more groups (so large inputs get many threads).</summary>
    const int RowsPerThread = 16;

    /// <summary>Most row splits: bounds the partial-sum scratch at MaxColumnSplits x columns.</summary>
    const int MaxColumnSplits = 64;

    /// <summary>The launch shape <see cref="ColumnSums"/> uses here: group = ColumnTile x ColumnSlices threads.</summary>
    public int ColumnTile => columnTile;

    public int ColumnSlices => columnSlices;

    /// <summary>
    /// sums[c] = beta * sums[c] + sum over rows of x[r, c], for x [rows, columns] (bias gradients).
    /// On a GPU a block reduction: a group reads ColumnTile neighbouring columns (coalesced) of
    /// ColumnSlices rows at a time, and rows are split over up to 64 groups per column tile (so each
    /// thread sums about 16 rows) whose partial sums a second launch adds in split order. Every sum is
    /// in a fixed order: deterministic on every device. Host execution sums each column's rows in order.
    /// </summary>
    public void ColumnSums(AcceleratorStream s, ArrayView<float> x, int rows, ArrayView<float> sums, float beta = 0f)
    {
        int columns = (int)sums.Length;
        Check(x.Length == (long)rows * columns, $"ColumnSums: x has {x.Length} elements, expected [{rows}, {columns}].");
        if (columns == 0) return;
        runtime.CountLaunch();
        if (runtime.RunOnHost)
        {
            ElementwiseHost.ColumnSums(x, rows, columns, beta, sums);
            return;
        }
        int splits = Math.Clamp((rows + columnSlices * RowsPerThread - 1) / (columnSlices * RowsPerThread), 1, MaxColumnSplits);
        var p = new ColumnSumsParams(rows, columns, (rows + splits - 1) / splits, splits, beta);
        var partials = splits == 1 ? sums : Scratch(s, columns).SubView(0, (long)splits * columns);
        var config = new KernelConfig(new Index2D((columns + columnTile - 1) / columnTile, splits), new Index2D(columnTile, columnSlices),
            SharedMemoryConfig.RequestDynamic<float>(columnTile * columnSlices));
        columnSumsPartial(s, config, p, x, sums, partials);
        if (splits == 1) return;
        runtime.CountLaunch();
        columnSumsFinish(s, new Index1D(columns), p, partials, sums);
    }

    /// <summary>
    /// Partial sums of one stream's column-sum launches, [MaxColumnSplits, columns]: sized for the most splits
    /// at once, so it grows (after a wait on that stream) only for a wider input, never as row counts vary.
    /// </summary>
    ArrayView<float> Scratch(AcceleratorStream s, int columns)
    {
        long length = (long)MaxColumnSplits * columns;
        if (columnSumsScratch.TryGetValue(s, out var buffer) && buffer.Length >= length) return buffer.View;
        if (buffer is not null)
        {
            DeviceCounters.Wait(s);
            buffer.Dispose();
        }
        runtime.Counters.CountAllocation();
        buffer = runtime.Accelerator.Allocate1D<float>(length);
        columnSumsScratch[s] = buffer;
        return buffer.View;
    }

    /// <summary>
    /// Inverted dropout: y = x * mask / (1 - p), mask[i] = 1 with probability 1 - p from a hash of
    /// (seed, offset + i). Backward is the same call on the gradient with the same seed and offset.
    /// </summary>
    public void Dropout(AcceleratorStream s, DropoutParams p, ArrayView<float> x, ArrayView<float> y)
    {
        Check(x.Length == y.Length, $"Dropout: x has {x.Length} elements, y {y.Length}.");
        int chunks = (int)((x.Length + DropoutHostChunk - 1) / DropoutHostChunk);
        runtime.ForRows(s, x.Length, (st, i) => dropout(st, i, p, x, y), chunks, c =>
        {
            long start = (long)c * DropoutHostChunk;
            int length = (int)Math.Min(DropoutHostChunk, x.Length - start);
            ElementwiseHost.Dropout(p, start, x.SubView(start, length).AsHostSpan(), y.SubView(start, length).AsHostSpan());
        });
    }

    /// <summary>Elements per host dropout chunk (a worker's unit of work).</summary>
    const int DropoutHostChunk = 4096;

    static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    public static void FillKernel(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    public static void CopyKernel(Index1D i, ArrayView<float> src, ArrayView<float> dst) => dst[i] = src[i];

    public static void AxpbyKernel(Index1D i, float a, ArrayView<float> x, float b, ArrayView<float> y) =>
        y[i] = ElementwiseElement.Axpby(a, x[i], b, y[i]);

    public static void AddRowBiasKernel(Index1D i, ArrayView<float> x, int columns, ArrayView<float> bias) =>
        x[i] += bias[i % columns];

    public static void ScaleShiftColumnsKernel(Index1D i, ArrayView<float> x, int columns, ArrayView<float> scale, ArrayView<float> shift) =>
        x[i] = x[i] * scale[i % columns] + shift[i % columns];

    /// <summary>
    /// Column sums, first pass. Group (ColumnTile x ColumnSlices), grid (column tiles, splits): thread (tx, ty)
    /// adds rows ty, ty + slices, ... of its split for column tile * ColumnTile + tx; the group then adds its
    /// slices in a fixed tree over shared memory [slices, tile]. With one split the result goes to sums
    /// (with beta), otherwise to partials [splits, columns].
    /// </summary>
    public static void ColumnSumsPartialKernel(ColumnSumsParams p, ArrayView<float> x, ArrayView<float> sums, ArrayView<float> partials)
    {
        int tile = Group.DimX, slices = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        int c = Grid.IdxX * tile + tx, split = Grid.IdxY;
        int rowStart = split * p.RowsPerSplit, rowEnd = Math.Min(rowStart + p.RowsPerSplit, p.Rows);
        float total = 0f;
        if (c < p.Columns)
            for (int r = rowStart + ty; r < rowEnd; r += slices) total += x[(long)r * p.Columns + c];
        var shared = SharedMemory.GetDynamic<float>();
        shared[ty * tile + tx] = total;
        Group.Barrier();
        for (int stride = slices / 2; stride > 0; stride >>= 1)
        {
            if (ty < stride) shared[ty * tile + tx] += shared[(ty + stride) * tile + tx];
            Group.Barrier();
        }
        if (ty != 0 || c >= p.Columns) return;
        float sum = shared[tx];
        if (p.Splits == 1) sums[c] = ElementwiseElement.ColumnSum(p.Beta, sums[c], sum);
        else partials[(long)split * p.Columns + c] = sum;
    }

    /// <summary>Column sums, second pass: sums[c] = beta * sums[c] + the splits' partials added in split order.</summary>
    public static void ColumnSumsFinishKernel(Index1D c, ColumnSumsParams p, ArrayView<float> partials, ArrayView<float> sums)
    {
        float total = 0f;
        for (int split = 0; split < p.Splits; split++) total += partials[(long)split * p.Columns + c];
        sums[c] = ElementwiseElement.ColumnSum(p.Beta, sums[c], total);
    }

    public static void DropoutKernel(Index1D i, DropoutParams p, ArrayView<float> x, ArrayView<float> y)
    {
        y[i] = ElementwiseElement.Dropout(p, ElementwiseElement.DropoutCounter(p, i), x[i]);
    }
}

/// <summary>A column-sum launch: x [Rows, Columns] split into Splits row ranges of RowsPerSplit; sums = Beta * sums + column sums.</summary>
public readonly record struct ColumnSumsParams(int Rows, int Columns, int RowsPerSplit, int Splits, float Beta);

/// <summary>
/// Dropout rate, 1/(1-rate), seed and the element offset of this call in the step's random stream.
/// Element i's counter is Offset + (i / RowBlock) * RowStride + i % RowBlock: with a replica's share of the
/// batch rows (<see cref="StreamRows"/>) that is the counter the same element has in the whole batch, so
/// data-parallel replicas draw exactly the masks one device would.
/// </summary>
public readonly record struct DropoutParams(float Rate, float Scale, ulong Seed, long Offset, long RowBlock, long RowStride)
{
    /// <summary>Counters offset + i over the whole tensor (all rows on this device).</summary>
    public static DropoutParams Create(float rate, ulong seed, long offset) =>
        new(rate, 1f / (1f - rate), seed, offset, long.MaxValue, long.MaxValue);

    /// <summary>
    /// Counters for a [T, rows.Local, width] tensor holding rows [First, First + Local) of a [T, rows.Global, width]
    /// one; <paramref name="offset"/> is the whole tensor's offset in the step's random stream.
    /// </summary>
    public static DropoutParams Create(float rate, ulong seed, long offset, StreamRows rows, int width) =>
        new(rate, 1f / (1f - rate), seed, offset + (long)rows.First * width, (long)rows.Local * width, (long)rows.Global * width);
}

/// <summary>A replica's share of a batch's streams: rows [First, First + Local) of Global (all of them on one device).</summary>
public readonly record struct StreamRows(int First, int Local, int Global)
{
    public static StreamRows All(int rows) => new(0, rows, rows);
}

/// <summary>A counter-based hash RNG (SplitMix64 finaliser): the same bits on every device for (seed, counter).</summary>
public static class CounterRandom
{
    public static uint Hash(ulong seed, ulong counter)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (counter + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (uint)(z >> 32);
    }

    /// <summary>Uniform in [0, 1) with 24 bits.</summary>
    public static float Uniform(ulong seed, ulong counter) => (Hash(seed, counter) >> 8) * (1f / 16777216f);
}
