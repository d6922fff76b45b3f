using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// Compiles a kernel method to PTX with ILGPU's PTX backend, which needs no GPU: what the CUDA driver
/// would be handed for an SM 7.0 or SM 9.0 (H100) device, with the same context settings as ours.
/// </summary>
sealed class PtxCompiler : IDisposable
{
    readonly Context context;
    readonly PTXBackend backend;

    public PtxCompiler(CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        context = Context.Create(b => b.DefaultCPU().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
    }

    public static PtxCompiler Sm90() => new(CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

    /// <summary>The PTX of a kernel: implicitly grouped when its first parameter is an Index type.</summary>
    public string Compile(MethodInfo kernel)
    {
        var first = kernel.GetParameters()[0].ParameterType;
        bool implicitlyGrouped = first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
        var entry = implicitlyGrouped
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, default)).PTXAssembly;
    }

    public void Dispose()
    {
        backend.Dispose();
        context.Dispose();
    }
}
