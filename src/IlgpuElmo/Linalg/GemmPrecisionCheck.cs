using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Linalg;

/// <summary>The arithmetic a GEMM was measured to compute in, from how it rounds its inputs.</summary>
public enum MeasuredMath
{
    /// <summary>Inputs kept whole: FP32.</summary>
    Fp32,

    /// <summary>Inputs rounded to a 10-bit mantissa with FP32's range: TF32 tensor cores.</summary>
    Tf32,

    /// <summary>Inputs lost more: fewer mantissa bits, or a narrower range (FP16 inputs underflow at 1e-6 and overflow at 1e5).</summary>
    BelowTf32,
}

/// <summary>
/// Measures what a GEMM backend computes in, so a precision asked for can be checked, not assumed
/// (cuBLAS's TensorOpMath looks like TF32 by speed but rounds inputs to FP16).
/// <para>Input rounding: C = X P with P a permutation makes every output one input times exactly 1, so
/// an output's relative error is the rounding of that input alone, with nothing averaged away. X is
/// probed at magnitudes 1e-6, 1 and 1e5 (FP16 holds neither end: 1e-6 is subnormal there, 1e5 above its
/// 65504), as the left and as the right operand. FP32 returns X exactly; TF32 keeps 10 mantissa bits
/// (error below 2^-10 whether it rounds or truncates); anything worse is below TF32.</para>
/// <para>Accumulation: a U(-1,1) product against float64, error normwise (|c - exact| / sum_k |a||b|),
/// within a tolerance per precision.</para>
/// </summary>
public static class GemmPrecisionCheck
{
    const int Size = 128;
    static readonly double[] Magnitudes = [1e-6, 1, 1e5];

    /// <summary>Largest input rounding error counted as FP32 (an FP32 GEMM is exact on this probe).</summary>
    public const double Fp32InputError = 1.0 / (1 << 24);

    /// <summary>Largest input rounding error counted as TF32: 10 mantissa bits, truncated or rounded.</summary>
    public const double Tf32InputError = 1.0 / (1 << 10);

    /// <summary>Normwise product error allowed: FP32 accumulation over K = 128, or TF32 inputs.</summary>
    public static double ProductTolerance(Precision precision) => precision == Precision.Tf32 ? 4e-3 : 1e-5;

    /// <param name="InputErrors">Per probe ("A x 1e-6", ...): the largest relative error of an output; infinity for inf/NaN.</param>
    /// <param name="ProductError">The U(-1,1) product's largest normwise error.</param>
    public sealed record Result(Precision Requested, IReadOnlyList<(string Probe, double Error)> InputErrors, double ProductError)
    {
        public double WorstInputError => InputErrors.Max(e => e.Error);

        public MeasuredMath Measured => WorstInputError <= Fp32InputError ? MeasuredMath.Fp32
            : WorstInputError <= Tf32InputError ? MeasuredMath.Tf32
            : MeasuredMath.BelowTf32;

        /// <summary>FP32 asked: FP32 measured. TF32 asked: TF32 or better. Both: the product within its tolerance.</summary>
        public bool Passed => ProductError <= ProductTolerance(Requested)
            && (Requested == Precision.Tf32 ? Measured != MeasuredMath.BelowTf32 : Measured == MeasuredMath.Fp32);

        public string MeasuredText => Measured switch
        {
            MeasuredMath.Fp32 => "fp32 (inputs exact)",
            MeasuredMath.Tf32 => "tf32 (inputs rounded to a 10-bit mantissa)",
            _ => "below tf32 (inputs lost more than a 10-bit mantissa keeps, or fell out of range: e.g. fp16)",
        };
    }

    /// <summary>Runs the probes through <paramref name="gemm"/> on <paramref name="stream"/>, in tensors from <paramref name="device"/>.</summary>
    public static Result Run(ITensorAllocator device, AcceleratorStream stream, Gemm gemm, Precision requested)
    {
        var random = new Random(20261125);
        var permutation = Enumerable.Range(0, Size).OrderBy(_ => random.Next()).ToArray();
        var selector = new float[Size * Size]; // selector[k, j] = 1 where k = permutation[j]
        for (int j = 0; j < Size; j++) selector[permutation[j] * Size + j] = 1f;
        var selectorT = new float[Size * Size]; // selectorT[i, k] = 1 where k = permutation[i]
        for (int i = 0; i < Size; i++) selectorT[i * Size + permutation[i]] = 1f;

        var errors = new List<(string, double)>();
        foreach (double magnitude in Magnitudes)
        {
            var x = new float[Size * Size];
            for (int i = 0; i < x.Length; i++)
                x[i] = (float)(magnitude * (1 + random.NextDouble()) * (random.Next(2) == 0 ? -1 : 1));
            // X P: output [i, j] is X[i, permutation[j]]; Pt X: output [i, j] is X[permutation[i], j].
            var right = Multiply(device, stream, gemm, x, selector, Size, Size, Size);
            var left = Multiply(device, stream, gemm, selectorT, x, Size, Size, Size);
            double worstRight = 0, worstLeft = 0;
            for (int i = 0; i < Size; i++)
                for (int j = 0; j < Size; j++)
                {
                    worstRight = Math.Max(worstRight, RelativeError(right[i * Size + j], x[i * Size + permutation[j]]));
                    worstLeft = Math.Max(worstLeft, RelativeError(left[i * Size + j], x[permutation[i] * Size + j]));
                }
            errors.Add(($"A x {magnitude:0.#E+0}", worstRight));
            errors.Add(($"B x {magnitude:0.#E+0}", worstLeft));
        }

        var a = Uniform(random, Size * Size);
        var b = Uniform(random, Size * Size);
        var c = Multiply(device, stream, gemm, a, b, Size, Size, Size);
        return new Result(requested, errors, NormwiseError(a, b, c, Size, Size, Size));
    }

    /// <summary>
    /// max over outputs of |c - exact| / sum_k |a_ik b_kj| for row-major A [m, k], B [k, n], C [m, n]:
    /// the error relative to what the inputs' rounding can cost, so cancellation does not inflate it.
    /// </summary>
    public static double NormwiseError(float[] a, float[] b, float[] c, int m, int n, int k)
    {
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double exact = 0, magnitude = 0;
                for (int q = 0; q < k; q++)
                {
                    double product = (double)a[i * k + q] * b[q * n + j];
                    exact += product;
                    magnitude += Math.Abs(product);
                }
                double error = Math.Abs(c[i * n + j] - exact) / (magnitude > 0 ? magnitude : 1);
                worst = Math.Max(worst, double.IsFinite(error) ? error : double.PositiveInfinity);
            }
        return worst;
    }

    static double RelativeError(float actual, float expected)
    {
        double error = Math.Abs((double)actual - expected) / Math.Abs(expected);
        return double.IsFinite(error) ? error : double.PositiveInfinity;
    }

    static float[] Multiply(ITensorAllocator device, AcceleratorStream stream, Gemm gemm, float[] a, float[] b, int m, int n, int k)
    {
        using var da = device.Allocate<float>(new([m, k]));
        using var db = device.Allocate<float>(new([k, n]));
        using var dc = device.Allocate<float>(new([m, n]));
        da.CopyFrom(stream, a);
        db.CopyFrom(stream, b);
        gemm.Multiply(stream, da, false, db, false, dc);
        return dc.ToArray(stream);
    }

    static float[] Uniform(Random random, int n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}
