namespace IlgpuElmo.Kernels;

/// <summary>
/// exp and log as a type argument, so one element function serves the kernels (<see cref="KernelExpLog"/>)
/// and host bodies that use the runtime's MathF (host execution's results are kept bit for bit as they were).
/// </summary>
public interface IExpLog
{
    float Exp(float x);

    float Log(float x);
}

/// <summary><see cref="KernelMath"/>'s exp and log: the kernels' choice, the same bits on every device.</summary>
public readonly struct KernelExpLog : IExpLog
{
    public float Exp(float x) => KernelMath.Exp(x);

    public float Log(float x) => KernelMath.Log(x);
}
