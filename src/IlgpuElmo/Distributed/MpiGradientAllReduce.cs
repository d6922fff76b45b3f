using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Sums the replicas' gradients over MPI before the optimizer's global norm, so every rank clips and
/// updates with the same numbers: dense gradients in buckets (<see cref="GradientBuckets"/>) through host
/// memory, row-sparse ones over the union of touched rows (<see cref="TouchedRowsAllReduce"/>).
/// </summary>
/// <remarks>
/// It waits for the device first (MPI reads host memory), so nothing overlaps the backward pass: on the CPU
/// device that costs only the copies; on GPUs use <see cref="NcclGradientAllReduce"/>, which stays on the device.
/// </remarks>
public sealed class MpiGradientAllReduce : IGradientAllReduce, IDisposable
{
    /// <summary>4M floats (16 MB) per message: large enough to reach a link's bandwidth, small enough to stage.</summary>
    public const int DefaultBucketFloats = 1 << 22;

    readonly MpiWorld world;
    readonly int bucketFloats;
    readonly TouchedRowsAllReduce sparse;
    GradientBuckets? buckets;
    IReadOnlyList<Parameter>? bucketed;
    float[] staging = [];

    public MpiGradientAllReduce(ComputeDevice device, MpiWorld world, int bucketFloats = DefaultBucketFloats)
    {
        this.world = world;
        this.bucketFloats = bucketFloats;
        sparse = new TouchedRowsAllReduce(device, world, SumThroughHost);
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
        foreach (var bucket in buckets!.Buckets)
        {
            var data = Staging(GradientBuckets.Size(bucket));
            foreach (var s in bucket) Segment(dense, s).CopyTo(stream, data.Slice(s.BucketOffset, s.Length));
            world.SumInPlace(data);
            foreach (var s in bucket) Segment(dense, s).CopyFrom(stream, data.Slice(s.BucketOffset, s.Length));
        }
        foreach (var p in parameters.Where(p => p.RowSparse)) sparse.Combine(stream, p);
    }

    /// <summary>A bucket segment's piece of its gradient, as a tensor.</summary>
    public static DeviceTensor<float> Segment(IReadOnlyList<Parameter> dense, BucketSegment s) =>
        DeviceTensor<float>.FromView(dense[s.Parameter].Gradient.View.SubView(s.Start, s.Length), new Shape(s.Length));

    void SumThroughHost(AcceleratorStream stream, DeviceTensor<float> packed)
    {
        var data = Staging((int)packed.Length);
        packed.CopyTo(stream, data);
        world.SumInPlace(data);
        packed.CopyFrom(stream, data);
    }

    Span<float> Staging(int length)
    {
        if (staging.Length < length) staging = new float[length];
        return staging.AsSpan(0, length);
    }

    public void Dispose() => sparse.Dispose();
}
