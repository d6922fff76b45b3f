using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Training;
using ILGPU.Runtime;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Sums the replicas' gradients over MPI before the optimizer's global norm, so every rank clips and
/// updates with the same numbers. Dense gradients go in buckets (<see cref="GradientBuckets"/>) through host
/// memory. A row-sparse gradient (word embedding, sampled-softmax rows) is combined without densifying its
/// table: the ranks all-gather their touched row ids, take the sorted union, gather those rows, sum them,
/// and write the sums back; the union becomes the parameter's touched rows on every rank.
/// </summary>
/// <remarks>
/// It waits for the device first (MPI reads host memory): on the CPU device that costs nothing; a GPU
/// should use NCCL on device buffers instead. Writing sums back is exact: a rank's own rows are cancelled
/// by adding their negation (x + (-x) = 0 in IEEE arithmetic), then the sums added to zero, so every rank
/// holds bit-identical gradients.
/// </remarks>
public sealed class MpiGradientAllReduce : IGradientAllReduce, IDisposable
{
    /// <summary>4M floats (16 MB) per message: large enough to reach the link's bandwidth, small enough to stage.</summary>
    public const int DefaultBucketFloats = 1 << 22;

    readonly ComputeDevice device;
    readonly MpiWorld world;
    readonly int bucketFloats;
    readonly EmbeddingKernels rows;
    readonly Workspace workspace;
    readonly Dictionary<Parameter, DeviceTensor<int>> unionRows = new();
    GradientBuckets? buckets;
    IReadOnlyList<Parameter>? bucketed;
    float[] staging = [];

    public MpiGradientAllReduce(ComputeDevice device, MpiWorld world, int bucketFloats = DefaultBucketFloats)
    {
        this.device = device;
        this.world = world;
        this.bucketFloats = bucketFloats;
        rows = device.Kernels(rt => new EmbeddingKernels(rt));
        workspace = new Workspace(device);
    }

    public void AllReduce(AcceleratorStream stream, IReadOnlyList<Parameter> parameters)
    {
        stream.Synchronize();
        var dense = parameters.Where(p => !p.RowSparse).ToList();
        if (bucketed is null || !bucketed.SequenceEqual(dense))
        {
            buckets = new GradientBuckets(dense.Select(p => p.Gradient.Length).ToList(), bucketFloats);
            bucketed = dense;
        }
        foreach (var bucket in buckets!.Buckets) SumBucket(stream, dense, bucket);
        foreach (var p in parameters.Where(p => p.RowSparse)) SumTouchedRows(stream, p);
    }

    void SumBucket(AcceleratorStream stream, IReadOnlyList<Parameter> dense, IReadOnlyList<BucketSegment> bucket)
    {
        var data = Staging(GradientBuckets.Size(bucket));
        foreach (var s in bucket) Segment(dense, s).CopyTo(stream, data.Slice(s.BucketOffset, s.Length));
        world.SumInPlace(data);
        foreach (var s in bucket) Segment(dense, s).CopyFrom(stream, data.Slice(s.BucketOffset, s.Length));
    }

    static DeviceTensor<float> Segment(IReadOnlyList<Parameter> dense, BucketSegment s) =>
        DeviceTensor<float>.FromView(dense[s.Parameter].Gradient.View.SubView(s.Start, s.Length), new Shape(s.Length));

    void SumTouchedRows(AcceleratorStream stream, Parameter p)
    {
        var union = TouchedRowUnion(stream, p);
        int width = (int)p.Shape.RowSize, u = union.Length;
        if (u == 0)
        {
            p.TouchedCount = 0;
            return;
        }
        if (!unionRows.TryGetValue(p, out var ids))
            unionRows[p] = ids = device.Allocate<int>(new Shape(p.Shape[0]), $"all ranks' touched rows of {p.Name}");
        var idView = DeviceTensor<int>.FromView(ids.View.SubView(0, u), new Shape(u));
        idView.CopyFrom(stream, union);
        var packed = workspace.Get<float>($"rows of {p.Name}", u, width);
        rows.Gather(stream, p.Gradient.View, width, idView.View, packed.View);
        var sums = Staging(u * width);
        packed.CopyTo(stream, sums);
        for (int i = 0; i < sums.Length; i++) sums[i] = -sums[i];
        packed.CopyFrom(stream, sums);
        rows.ScatterAdd(stream, packed.View, width, idView.View, p.Gradient.View);
        for (int i = 0; i < sums.Length; i++) sums[i] = -sums[i];
        world.SumInPlace(sums);
        packed.CopyFrom(stream, sums);
        rows.ScatterAdd(stream, packed.View, width, idView.View, p.Gradient.View);
        p.TouchedRows = ids;
        p.TouchedCount = u;
    }

    /// <summary>The sorted union of every rank's touched rows of <paramref name="p"/>.</summary>
    int[] TouchedRowUnion(AcceleratorStream stream, Parameter p)
    {
        int count = p.TouchedRows is null ? 0 : p.TouchedCount;
        var mine = count == 0 ? [] : DeviceTensor<int>.FromView(p.TouchedRows!.View.SubView(0, count), new Shape(count)).ToArray(stream);
        var counts = new int[world.Size];
        world.GatherAll([count], counts);
        int most = counts.Max();
        var padded = new int[most];
        Array.Fill(padded, -1);
        mine.CopyTo(padded, 0);
        var all = new int[most * world.Size];
        world.GatherAll(padded, all);
        return all.Where(r => r >= 0).Distinct().Order().ToArray();
    }

    Span<float> Staging(int length)
    {
        if (staging.Length < length) staging = new float[length];
        return staging.AsSpan(0, length);
    }

    public void Dispose()
    {
        foreach (var ids in unionRows.Values) ids.Dispose();
        workspace.Dispose();
    }
}
