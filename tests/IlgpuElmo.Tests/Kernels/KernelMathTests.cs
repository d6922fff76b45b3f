using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>KernelMath's exp, log, tanh and logistic against float64 over their whole useful range.</summary>
public class KernelMathTests
{
    /// <summary>Largest error in units of float32's spacing at the true value (ulp).</summary>
    static double WorstUlps(Func<float, float> f, Func<double, double> exact, IEnumerable<float> inputs)
    {
        double worst = 0;
        foreach (float x in inputs)
        {
            double expected = exact(x);
            float magnitude = Math.Abs((float)expected);
            double ulp = Math.Max(MathF.BitIncrement(magnitude) - magnitude, float.Epsilon);
            worst = Math.Max(worst, Math.Abs(f(x) - expected) / ulp);
        }
        return worst;
    }

    static IEnumerable<float> Sweep(float from, float to, int count) =>
        Enumerable.Range(0, count).Select(i => from + (to - from) * i / (count - 1f));

    [Fact]
    public void EachIsWithinAFewUlpsOfFloat64()
    {
        var positives = Sweep(-40f, 38f, 200_001).Select(x => (float)Math.Pow(2, x)).Append(float.Epsilon * 5);
        double exp = WorstUlps(KernelMath.Exp, Math.Exp, Sweep(-87f, 88.5f, 200_001));
        double log = WorstUlps(KernelMath.Log, Math.Log, positives.Where(x => Math.Abs(x - 1) > 1e-3));
        double tanh = WorstUlps(KernelMath.Tanh, Math.Tanh, Sweep(-12f, 12f, 200_001));
        double sigmoid = WorstUlps(KernelMath.Sigmoid, x => 1 / (1 + Math.Exp(-x)), Sweep(-30f, 30f, 200_001));
        string all = $"worst ulps: exp {exp:F2}, log {log:F2}, tanh {tanh:F2}, sigmoid {sigmoid:F2}";
        Assert.True(exp <= 3 && log <= 3 && tanh <= 3 && sigmoid <= 3, all);
        // Near 1, log's value is tiny: its error is absolute, a few ulps of 1.
        foreach (float x in Sweep(0.999f, 1.001f, 2001)) Assert.True(Math.Abs(KernelMath.Log(x) - Math.Log(x)) <= 2.5e-7 * Math.Abs(Math.Log(x)) + 1e-10);
    }

    [Fact]
    public void EdgesKeepTheirMeaning()
    {
        Assert.Equal(0f, KernelMath.Exp(-100f));
        Assert.Equal(0f, KernelMath.Exp(float.MinValue));
        Assert.Equal(float.PositiveInfinity, KernelMath.Exp(100f));
        Assert.True(float.IsNaN(KernelMath.Exp(float.NaN)));
        Assert.Equal(float.NegativeInfinity, KernelMath.Log(0f));
        Assert.Equal(float.PositiveInfinity, KernelMath.Log(float.PositiveInfinity));
        Assert.True(float.IsNaN(KernelMath.Log(-1f)) && float.IsNaN(KernelMath.Log(float.NaN)));
        Assert.Equal(1f, KernelMath.Tanh(float.PositiveInfinity));
        Assert.Equal(-1f, KernelMath.Tanh(-50f));
        Assert.True(float.IsNaN(KernelMath.Tanh(float.NaN)));
        Assert.Equal(0f, KernelMath.Sigmoid(float.NegativeInfinity));
        Assert.Equal(1e-30f, KernelMath.Tanh(1e-30f));
    }
}
