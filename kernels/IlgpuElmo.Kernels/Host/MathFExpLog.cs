namespace IlgpuElmo.Kernels;

/// <summary>The runtime's MathF.Exp and MathF.Log, for host bodies' scalar steps (not for kernels: CUDA has no libm).</summary>
readonly struct MathFExpLog : IExpLog
{
    public float Exp(float x) => MathF.Exp(x);

    public float Log(float x) => MathF.Log(x);
}
