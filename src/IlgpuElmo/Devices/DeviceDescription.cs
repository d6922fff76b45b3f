using ILGPU.Runtime;

namespace IlgpuElmo.Devices;

/// <summary>One accelerator ILGPU sees, with whether we can use it and, if not, why.</summary>
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
    Device IlgpuDevice)
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
