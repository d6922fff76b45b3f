using IlgpuElmo.Devices;
using IlgpuElmo.Distributed.Nccl;

namespace IlgpuElmo.Distributed;

/// <summary>
/// A data-parallel run's setting on one rank: the MPI ranks it is one of and how gradients are summed
/// (<paramref name="AllReduce"/>: "nccl" on CUDA device buffers, "mpi" through host memory, "auto" for nccl on
/// CUDA, else mpi).
/// </summary>
public sealed record DataParallel(MpiWorld World, string AllReduce = "auto")
{
    /// <summary>
    /// A rank's device: the GPU of its local rank (the kind `auto` would pick, or the one asked for), unless
    /// <paramref name="options"/> names an index or the device is the CPU.
    /// </summary>
    public static DeviceOptions DeviceOfLocalRank(DeviceOptions options, int localRank)
    {
        if (options.Index is not null || options.Kind == DeviceKind.Cpu) return options;
        var kind = options.Kind;
        if (kind == DeviceKind.Auto)
        {
            using var catalog = DeviceCatalog.Discover();
            kind = catalog.AutoChoice.Kind;
        }
        return kind == DeviceKind.Cpu ? options : options with { Kind = kind, Index = localRank };
    }

    /// <summary>
    /// The gradient transport <see cref="AllReduce"/> asks for: NCCL on CUDA device buffers (auto falls back to MPI,
    /// with a line saying so, when libnccl.so.2 is absent; nccl asked for by name is an error then), else MPI.
    /// </summary>
    public IGradientAllReduce CreateAllReduce(ComputeDevice device, TextWriter log)
    {
        bool cuda = device.Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator;
        switch (AllReduce)
        {
            case "mpi":
                return new MpiGradientAllReduce(device, World);
            case "nccl":
                return Nccl(NcclLibrary.Load());
            case "auto" when cuda:
                try
                {
                    return Nccl(NcclLibrary.Load());
                }
                catch (InputException e)
                {
                    log.WriteLine($"note: {e.Message.Split(':')[0]}: summing gradients over MPI through host memory instead.");
                    return new MpiGradientAllReduce(device, World);
                }
            case "auto":
                return new MpiGradientAllReduce(device, World);
            default:
                throw new InputException($"--all-reduce {AllReduce}: expected nccl, mpi or auto.");
        }

        NcclGradientAllReduce Nccl(NcclLibrary library) =>
            new(device, World, NcclCommunicator.Create(library, World, device.Accelerator));
    }
}
