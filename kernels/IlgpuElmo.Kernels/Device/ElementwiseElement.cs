namespace IlgpuElmo.Kernels;

/// <summary>
/// The per-element maths of <see cref="ElementwiseKernels"/> that <see cref="ElementwiseHost"/> also runs,
/// written once: the kernels call it per thread, the host bodies' scalar loops per element; their vector
/// loops are the only other copy (the same operations in the same order, so the same bits).
/// </summary>
public static class ElementwiseElement
{
    /// <summary>a x + b y, with y not used when b is 0 (BLAS: y may hold NaN then).</summary>
    public static float Axpby(float a, float x, float b, float y) => b == 0f ? a * x : a * x + b * y;

    /// <summary>A column sum's result: beta * previous + total, previous not used when beta is 0.</summary>
    public static float ColumnSum(float beta, float previous, float total) => beta == 0f ? total : beta * previous + total;

    /// <summary>Element <paramref name="at"/>'s counter in the step's random stream (see <see cref="DropoutParams"/>).</summary>
    public static ulong DropoutCounter(in DropoutParams p, long at) => (ulong)(p.Offset + at / p.RowBlock * p.RowStride + at % p.RowBlock);

    /// <summary>Inverted dropout of x with the given counter: kept (x / (1 - rate)) when its uniform draw is at least the rate, else 0.</summary>
    public static float Dropout(in DropoutParams p, ulong counter, float x) => CounterRandom.Uniform(p.Seed, counter) >= p.Rate ? x * p.Scale : 0f;
}
