using ILGPU;
using ILGPU.Algorithms;

namespace IlgpuElmo.Kernels;

/// <summary>
/// exp, log, tanh and the logistic function to within a few float32 ulps on every device, from adds,
/// multiplies, one IEEE division and bit manipulation. On CUDA, ILGPU lowers XMath.Exp/Log to
/// ex2/lg2.approx (about 2 + 1.2|x| ulp for exp) and, from SM 7.5, XMath.Tanh to tanh.approx.f32
/// (relative error about 2^-11): differences the CPU tests against float64 would never see. The LSTM cell
/// and softmax kernels use these instead; tests/.../KernelMathTests bound their error and
/// KernelPtxTests check that no .approx instruction reaches any kernel's PTX.
/// </summary>
public static class KernelMath
{
    const float Log2E = 1.44269504088896341f;
    // ln 2 split so that n * Ln2High is exact for |n| < 256 (Cody and Waite's range reduction).
    const float Ln2High = 0.693145751953125f;
    const float Ln2Low = 1.42860682030941723e-6f;
    const float Ln2 = 0.693147180559945309f;

    /// <summary>
    /// e^x: x = n ln2 + r with |r| &lt;= ln2/2, e^r by its Taylor polynomial to r^7 (truncation below
    /// 3e-9 relative), times 2^n built in the exponent bits in two halves (n runs from -126 to 128).
    /// Below -87 it returns 0 (the true value is under 1.7e-38); above 88.73 it overflows to infinity;
    /// NaN stays NaN (a diverged model must show a NaN loss).
    /// </summary>
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x < -87f) return 0f;
        x = XMath.Min(x, 89f);
        float n = XMath.Floor(x * Log2E + 0.5f);
        float r = x - n * Ln2High - n * Ln2Low;
        float p = 1f / 5040f;
        p = p * r + 1f / 720f;
        p = p * r + 1f / 120f;
        p = p * r + 1f / 24f;
        p = p * r + 1f / 6f;
        p = p * r + 0.5f;
        p = p * r + 1f;
        p = p * r + 1f;
        int half = (int)n / 2;
        return p * PowerOfTwo(half) * PowerOfTwo((int)n - half);
    }

    /// <summary>2^k for -126 &lt;= k &lt;= 127, from its exponent bits.</summary>
    static float PowerOfTwo(int k) => Interop.IntAsFloat((uint)(k + 127) << 23);

    /// <summary>
    /// ln x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m - 1)/(m + 1),
    /// |s| &lt;= 0.172, by its series to s^11. 0 gives -infinity, infinity itself, negatives and NaN NaN.
    /// </summary>
    public static float Log(float x)
    {
        if (!(x > 0f)) return x == 0f ? float.NegativeInfinity : float.NaN;
        if (float.IsPositiveInfinity(x)) return x;
        int e = 0;
        if (x < 1.17549435e-38f)
        {
            x *= 8388608f; // subnormal: scale by 2^23 into the normal range first
            e = -23;
        }
        uint bits = Interop.FloatAsInt(x);
        e += (int)((bits >> 23) & 0xFF) - 127;
        float m = Interop.IntAsFloat((bits & 0x007FFFFFu) | 0x3F800000u);
        if (m > 1.41421356f)
        {
            m *= 0.5f;
            e++;
        }
        float s = (m - 1f) / (m + 1f), s2 = s * s;
        float series = 1f / 11f;
        series = series * s2 + 1f / 9f;
        series = series * s2 + 1f / 7f;
        series = series * s2 + 1f / 5f;
        series = series * s2 + 1f / 3f;
        series = series * s2 + 1f;
        return e * Ln2 + 2f * s * series;
    }

    /// <summary>
    /// tanh x: for |x| &lt; 0.5 its odd Taylor series to x^15 (truncation below 1e-8 relative), else
    /// sign(x) (1 - 2 / (e^(2|x|) + 1)), which loses at most a bit to cancellation at |x| = 0.5.
    /// </summary>
    public static float Tanh(float x)
    {
        float a = XMath.Abs(x);
        if (a < 0.5f)
        {
            float x2 = x * x;
            float p = -929569f / 638512875f;
            p = p * x2 + 21844f / 6081075f;
            p = p * x2 - 1382f / 155925f;
            p = p * x2 + 62f / 2835f;
            p = p * x2 - 17f / 315f;
            p = p * x2 + 2f / 15f;
            p = p * x2 - 1f / 3f;
            return x + x * x2 * p;
        }
        float t = 1f - 2f / (Exp(2f * a) + 1f);
        return x < 0f ? -t : t;
    }

    /// <summary>The logistic function 1 / (1 + e^-x).</summary>
    public static float Sigmoid(float x) => 1f / (1f + Exp(-x));
}
