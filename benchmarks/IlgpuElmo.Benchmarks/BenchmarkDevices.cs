using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Benchmarks;

/// <summary>Which devices and GEMM backends exist on this machine, and how to open each for a benchmark.</summary>
public static class BenchmarkDevices
{
    static readonly Lazy<IReadOnlyList<DeviceDescription>> devices = new(() =>
    {
        using var catalog = DeviceCatalog.Discover();
        return catalog.Devices.ToList();
    });

    public static bool HasGpu => devices.Value.Any(d => d.Kind is DeviceKind.Cuda && d.Qualifies);
    public static bool HasOpenCL => devices.Value.Any(d => d.Kind is DeviceKind.OpenCL && d.Qualifies);

    public static IEnumerable<string> GemmBackends()
    {
        if (HasGpu) { yield return "cuda-cublas-fp32"; yield return "cuda-cublas-tf32"; yield return "cuda-tiled"; }
        if (HasOpenCL) yield return "opencl-tiled";
        yield return "cpu-host-simd";
        yield return "cpu-coarse-kernel";
    }

    /// <summary>Opens the device a backend name stands for and the GEMM to time on it.</summary>
    public static (ComputeDevice device, Gemm gemm) OpenGemm(string backend)
    {
        switch (backend)
        {
            case "cuda-cublas-fp32":
            case "cuda-cublas-tf32":
            {
                var device = ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda, null,
                    backend.EndsWith("tf32") ? Precision.Tf32 : Precision.Fp32));
                if (device.Gemm.Backend is not CuBlasGemm) throw new InvalidOperationException("cuBLAS did not load on this machine.");
                return (device, device.Gemm);
            }
            case "cuda-tiled":
            case "opencl-tiled":
            {
                var device = ComputeDevice.Create(new DeviceOptions(backend.StartsWith("cuda") ? DeviceKind.Cuda : DeviceKind.OpenCL));
                return (device, new Gemm(new KernelGemm(device.Kernels(rt => new GemmKernels(rt)), tiled: true)));
            }
            case "cpu-host-simd":
            {
                var device = ComputeDevice.CreateCpu(CpuExecution.Host);
                return (device, device.Gemm);
            }
            case "cpu-coarse-kernel":
            {
                var device = ComputeDevice.CreateCpu(CpuExecution.Simulate);
                return (device, device.Gemm);
            }
            default:
                throw new ArgumentException($"Unknown GEMM backend '{backend}'.");
        }
    }
}
