using IlgpuElmo.Distributed.Nccl;
using IlgpuElmo.Layers;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Sums the replicas' gradients with NCCL on the CUDA device buffers, enqueued on the optimizer's stream
/// without a host wait for the dense part: each bucket (<see cref="GradientBuckets"/>) is one NCCL group of
/// in-place all-reduces over its gradient segments (NCCL fuses a group into one launch). Row-sparse gradients
/// need the touched row ids on the host for the union (<see cref="TouchedRowsAllReduce"/>, over MPI), then sum
/// the packed rows with NCCL.
/// </summary>
/// <remarks>
/// The buckets are reduced after the whole backward pass, not overlapped with it: the model's backward has no
/// per-layer completion hook yet. docs/scaling.md gives what overlap would hide.
/// </remarks>
public sealed class NcclGradientAllReduce : IGradientAllReduce, IDisposable
{
    readonly NcclCommunicator nccl;
    readonly int bucketFloats;
    readonly TouchedRowsAllReduce sparse;
    GradientBuckets? buckets;
    IReadOnlyList<Parameter>? bucketed;

    public NcclGradientAllReduce(ComputeDevice device, MpiWorld world, NcclCommunicator nccl, int bucketFloats = MpiGradientAllReduce.DefaultBucketFloats)
    {
        this.nccl = nccl;
        this.bucketFloats = bucketFloats;
        sparse = new TouchedRowsAllReduce(device, world, (stream, packed) => nccl.SumInPlace(packed.View, stream));
    }

    public void AllReduce(AcceleratorStream stream, IReadOnlyList<Parameter> parameters)
    {
        var dense = parameters.Where(p => !p.RowSparse).ToList();
        if (bucketed is null || !bucketed.SequenceEqual(dense))
        {
            buckets = new GradientBuckets(dense.Select(p => p.Gradient.Length).ToList(), bucketFloats);
            bucketed = dense;
        }
        foreach (var bucket in buckets!.Buckets)
            nccl.Group(() =>
            {
                foreach (var s in bucket) nccl.SumInPlace(MpiGradientAllReduce.Segment(dense, s).View, stream);
            });
        foreach (var p in parameters.Where(p => p.RowSparse)) sparse.Combine(stream, p);
    }

    public void Dispose()
    {
        sparse.Dispose();
        nccl.Dispose();
    }
}
