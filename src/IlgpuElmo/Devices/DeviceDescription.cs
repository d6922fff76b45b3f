using ILGPU.Runtime;

namespace IlgpuElmo.Devices;

/// <summary>
/// One accelerator ILGPU sees, with whether we can use it and, if not, why. <paramref name="OnHostCpu"/>: an
/// OpenCL device that is the host's own CPU (PoCL, Intel's CPU runtime), which `auto` never prefers to the
/// CPU accelerator's host execution.
/// </summary>
public sealed record DeviceDescription(
    DeviceKind Kind,
    int IndexInKind,
    string Name,
    long MemoryBytes,
    int WarpSize,
    int MaxThreadsPerGroup,
    string Capability,
    bool Qualifies,
    string? WhyNot,
    Device IlgpuDevice,
    bool OnHostCpu = false)
{
    public string KindName => Kind switch
    {
        DeviceKind.Cuda => "cuda",
        DeviceKind.OpenCL => "opencl",
        DeviceKind.Cpu => "cpu",
        _ => "auto",
    };

    public override string ToString() =>
        $"{KindName}:{IndexInKind} {Name} ({MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {Capability})" +
        (Qualifies ? "" : $" - not usable: {WhyNot}");
}
