using IlgpuElmo.Devices;
using ILGPU.Runtime.CPU;

namespace IlgpuElmo.Tests;

/// <summary>
/// ILGPU's CPU accelerator simulating GPU-shaped devices, so group-using kernels run with the warp and
/// group sizes they get on real GPUs (the default CPU device has 4-wide warps in groups of 16):
/// NVIDIA-like (warp 32, groups up to 1024) and a 64-wide AMD GCN/CDNA-like device (ILGPU's
/// LegacyAMD: warp 64, groups up to 256; its `AMD` preset is a 32-wide RDNA shape).
/// </summary>
public static class GpuShapedDevices
{
    static readonly Lazy<ComputeDevice> nvidia = new(() => ComputeDevice.CreateCpu(CpuExecution.Simulate, TextWriter.Null, CPUDevice.Nvidia));
    static readonly Lazy<ComputeDevice> amd64 = new(() => ComputeDevice.CreateCpu(CpuExecution.Simulate, TextWriter.Null, CPUDevice.LegacyAMD));

    public static TheoryData<string> Shapes => new() { "nvidia", "amd64" };

    public static ComputeDevice Get(string shape) => shape == "nvidia" ? nvidia.Value : amd64.Value;
}
