using IlgpuElmo.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Linalg;

/// <summary>Our ILGPU GEMM kernels: the shared-memory tiled one on GPUs, the coarse one on the CPU accelerator.</summary>
public sealed class KernelGemm(GemmKernels kernels, bool tiled) : IGemmBackend
{
    public string Name => tiled ? "tiled-kernel" : "coarse-kernel";

    public void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (tiled) kernels.LaunchTiled(stream, p, a, b, c);
        else kernels.LaunchCoarse(stream, p, a, b, c);
    }

    public void Dispose() { }
}
