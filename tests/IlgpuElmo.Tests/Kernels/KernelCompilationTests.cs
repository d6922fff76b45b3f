using System.Reflection;
using IlgpuElmo.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// Every kernel in the kernels assembly compiles to PTX for an NVIDIA GPU (SM 7.0 and SM 9.0, the H100),
/// without a GPU: ILGPU's PTX backend runs on any machine. This catches constructs the CUDA backend
/// rejects that the CPU accelerator accepts.
/// </summary>
public class KernelCompilationTests
{
    public static TheoryData<string> Architectures => new() { "SM_70", "SM_90" };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryKernelCompilesToPtx(string architecture)
    {
        var arch = architecture == "SM_90" ? CudaArchitecture.SM_90 : CudaArchitecture.SM_70;
        var isa = architecture == "SM_90" ? CudaInstructionSet.ISA_80 : CudaInstructionSet.ISA_70;
        using var context = Context.Create(b => b.DefaultCPU().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, isa, null);
        var failures = new List<string>();
        int compiled = 0;
        foreach (var type in typeof(GemmKernels).Assembly.GetTypes())
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            {
                if (!method.Name.EndsWith("Kernel", StringComparison.Ordinal) || method.ReturnType != typeof(void) || method.GetParameters().Length == 0)
                    continue;
                var first = method.GetParameters()[0].ParameterType;
                bool implicitlyGrouped = first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
                try
                {
                    var entry = implicitlyGrouped
                        ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
                        : EntryPointDescription.FromExplicitlyGroupedKernel(method);
                    var kernel = (PTXCompiledKernel)backend.Compile(entry, default);
                    Assert.Contains(".entry", kernel.PTXAssembly);
                    compiled++;
                }
                catch (Exception e)
                {
                    failures.Add($"{type.Name}.{method.Name}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                }
            }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(compiled >= 40, $"only {compiled} kernels found");
    }
}
