using System.Runtime.Intrinsics;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The CPU a host figure was measured on, as every CPU figure must name it: model, cores the process uses,
/// the SIMD the host GEMM runs, and whether the processor has AVX-512 that .NET was told not to use (an
/// AVX-512 machine standing in for an AVX2 one, <c>DOTNET_EnableAVX512=0</c>).
/// </summary>
public sealed record HostProcessor(string Model, int Cores, HostGemmKernel Kernel, bool Avx512Disabled, HostCaches Caches)
{
    /// <summary>This process's view of the machine (Linux's /proc/cpuinfo for the model; elsewhere the architecture).</summary>
    public static HostProcessor Current { get; } = Read();

    static HostProcessor Read()
    {
        string model = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        bool hasAvx512 = false;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                string? name = null, family = null, number = null;
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if (key == "model name") name ??= value;
                    else if (key == "cpu family") family ??= value;
                    else if (key == "model") number ??= value;
                    else if (key == "flags" && !hasAvx512) hasAvx512 = value.Split(' ').Contains("avx512f");
                    if (line.Length == 0 && name is not null) break;
                }
                if (name is not null) model = family is null ? name : $"{name} (family {family}, model {number})";
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var kernel = HostGemm.BestKernel;
        return new HostProcessor(model, Environment.ProcessorCount, kernel, hasAvx512 && !Vector512.IsHardwareAccelerated, HostCaches.Machine);
    }

    /// <summary>The SIMD the host GEMM runs, as a reader says it: "AVX-512", "AVX2 (FMA)", "128-bit".</summary>
    public string Isa => Kernel switch
    {
        HostGemmKernel.Avx512 => "AVX-512",
        HostGemmKernel.Avx2 => Avx512Disabled ? "AVX2 (FMA; AVX-512 present but disabled: the AVX2 proxy)" : "AVX2 (FMA)",
        _ => "128-bit SIMD",
    };

    /// <summary>One line: "AMD EPYC (family 25, model 17), 2 cores, host GEMM host-packed-avx2: AVX2 (FMA), L1d 32 KB, L2 1024 KB, L3 32 MB".</summary>
    public override string ToString() =>
        $"{Model}, {Cores} cores, host GEMM host-packed-{Kernel.ToString().ToLowerInvariant()}: {Isa}, {Caches}";
}
