using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Distributed.Nccl;

/// <summary>
/// One NCCL communicator over the MPI ranks, one CUDA device each: rank 0 makes the unique id, MPI broadcasts
/// it, every rank joins with ncclCommInitRank on its own device. Collectives run on the CUDA stream they are
/// given, in stream order, without a host wait.
/// </summary>
public sealed unsafe class NcclCommunicator : IDisposable
{
    readonly NcclLibrary nccl;
    nint comm;

    NcclCommunicator(NcclLibrary nccl, nint comm)
    {
        this.nccl = nccl;
        this.comm = comm;
    }

    /// <summary>Joins every rank of <paramref name="world"/>; <paramref name="accelerator"/> must be this rank's CUDA device.</summary>
    public static NcclCommunicator Create(NcclLibrary nccl, MpiWorld world, Accelerator accelerator)
    {
        if (accelerator is not CudaAccelerator)
            throw new InputException($"--all-reduce nccl needs a CUDA device; this rank has {accelerator.AcceleratorType}. Use --all-reduce mpi.");
        var id = new NcclUniqueId();
        if (world.IsRoot) nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
        var bytes = id.ToBytes();
        world.Broadcast(bytes);
        id = NcclUniqueId.FromBytes(bytes);
        accelerator.Bind();
        nint created;
        nccl.Check(nccl.CommInitRank(&created, world.Size, id, world.Rank), "ncclCommInitRank");
        return new NcclCommunicator(nccl, created);
    }

    /// <summary>Sums <paramref name="data"/> over all ranks in place, enqueued on <paramref name="stream"/>.</summary>
    public void SumInPlace(ArrayView<float> data, AcceleratorStream stream)
    {
        nint pointer = data.LoadEffectiveAddressAsPtr();
        nccl.Check(nccl.AllReduce(pointer, pointer, (nuint)data.Length, (int)NcclDataType.Float32, (int)NcclReduction.Sum, comm,
            ((CudaStream)stream).StreamPtr), "ncclAllReduce");
    }

    /// <summary>Runs <paramref name="collectives"/> as one NCCL group: one fused launch for a bucket of all-reduces.</summary>
    public void Group(Action collectives)
    {
        nccl.Check(nccl.GroupStart(), "ncclGroupStart");
        try
        {
            collectives();
        }
        finally
        {
            nccl.Check(nccl.GroupEnd(), "ncclGroupEnd");
        }
    }

    public void Dispose()
    {
        if (comm == 0) return;
        nccl.CommDestroy(comm);
        comm = 0;
    }
}
