using IlgpuElmo.Devices;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Checks;

/// <summary>
/// How far a device's training may drift from the CPU host path's and still count as the same computation,
/// per quantity, for the GEMM precision the device was asked for. Errors are relative: a loss or gradient
/// norm against the host's value, a parameter's change over the run and an embedding layer normwise
/// (largest element difference over the host tensor's largest element).
/// <para>FP32: the two paths differ only in summation order (blocked host GEMM against device GEMMs and
/// reductions) and in the last ulps of exp/tanh/log (<see cref="Kernels.KernelMath"/> against the host's
/// vector maths). ILGPU's CPU simulation against host execution (the tiny models, 3 steps) measured losses
/// and gradient norms within about 1e-7, embeddings within 1e-6 and parameter changes within 5e-5 (the
/// Adagrad update follows its gradient's rounding one for one, and a few steps compound it). The bounds
/// leave 20 to 100 times that for a GPU's other summation orders and wider models, and stay far below
/// what a race, a missed write or a wrong index gives (order 1).</para>
/// <para>TF32: cuBLAS rounds GEMM inputs to a 10-bit mantissa (2^-11 relative, 8192 times FP32's), so a
/// product is good to about 4e-3 normwise (<see cref="Linalg.GemmPrecisionCheck.ProductTolerance"/>):
/// losses and embeddings are allowed about that, gradient norms and updates (a gradient through several
/// such GEMMs, then divided by Adagrad's accumulator) five to ten times more.</para>
/// </summary>
public sealed record CrossCheckTolerances(double Loss, double GradientNorm, double ParameterChange, double Embedding)
{
    public static CrossCheckTolerances For(Precision precision) => precision == Precision.Tf32
        ? new CrossCheckTolerances(Loss: 5e-3, GradientNorm: 2e-2, ParameterChange: 5e-2, Embedding: 1e-2)
        : new CrossCheckTolerances(Loss: 1e-5, GradientNorm: 1e-4, ParameterChange: 2e-3, Embedding: 1e-4);
}
