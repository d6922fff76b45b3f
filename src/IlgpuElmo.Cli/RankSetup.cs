using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;
using IlgpuElmo.Distributed.Nccl;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli;

/// <summary>What one rank of `elmo train --distributed` sets up for itself: its device and how its gradients are summed.</summary>
static class RankSetup
{
    /// <summary>
    /// A data-parallel rank's device: the GPU of its local rank (the kind `auto` would pick, or the one asked
    /// for), unless --device-index names one or the device is the CPU.
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
    /// The gradient transport --all-reduce asks for: NCCL on CUDA device buffers (auto falls back to MPI, with a
    /// line saying so, when libnccl.so.2 is absent; nccl asked for by name is an error then), else MPI.
    /// </summary>
    public static IGradientAllReduce GradientAllReduce(string kind, ComputeDevice device, MpiWorld world, TextWriter log)
    {
        bool cuda = device.Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator;
        switch (kind)
        {
            case "mpi":
                return new MpiGradientAllReduce(device, world);
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
                    return new MpiGradientAllReduce(device, world);
                }
            case "auto":
                return new MpiGradientAllReduce(device, world);
            default:
                throw new InputException($"--all-reduce {kind}: expected nccl, mpi or auto.");
        }

        NcclGradientAllReduce Nccl(NcclLibrary library) =>
            new(device, world, NcclCommunicator.Create(library, world, device.Accelerator));
    }
}
