using IlgpuElmo.Linalg;

namespace IlgpuElmo.Devices;

/// <summary>Which kind of accelerator to use. Auto: CUDA, then a qualifying OpenCL device that is not the host CPU, then the CPU.</summary>
public enum DeviceKind { Auto, Cuda, OpenCL, Cpu }

/// <summary>
/// How work runs on ILGPU's CPU accelerator. Host: kernel bodies as parallel loops and a blocked SIMD
/// GEMM (fast, the default). Simulate: every kernel through ILGPU's GPU-thread simulation (slow; what
/// the tests use to check the kernels themselves).
/// </summary>
public enum CpuExecution { Host, Simulate }

/// <summary>
/// The user's device choice: `--device`, `--device-index`, `--precision`, `--cpu-execution`. A null
/// Precision means none was asked for: the model options' precision applies (FP32 until they are read).
/// </summary>
public sealed record DeviceOptions(
    DeviceKind Kind = DeviceKind.Auto,
    int? Index = null,
    Precision? Precision = null,
    CpuExecution CpuExecution = CpuExecution.Host)
{
    public static DeviceKind ParseKind(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cuda" => DeviceKind.Cuda,
        "opencl" or "cl" => DeviceKind.OpenCL,
        "cpu" => DeviceKind.Cpu,
        _ => throw new ArgumentException($"--device: '{text}' is not a device kind; use auto, cuda, opencl or cpu."),
    };

    public static Precision ParsePrecision(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => Linalg.Precision.Fp32,
        "tf32" => Linalg.Precision.Tf32,
        _ => throw new ArgumentException($"--precision: '{text}' is not a precision; use fp32 or tf32."),
    };

    public static CpuExecution ParseCpuExecution(string text) => text.Trim().ToLowerInvariant() switch
    {
        "host" => CpuExecution.Host,
        "simulate" => CpuExecution.Simulate,
        _ => throw new ArgumentException($"--cpu-execution: '{text}' is not a mode; use host or simulate."),
    };
}
