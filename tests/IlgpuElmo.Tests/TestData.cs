namespace IlgpuElmo.Tests;

/// <summary>Fresh random inputs (never zeros) and poison for "every output element was written" checks.</summary>
public static class TestData
{
    /// <summary>Uniform in ±[0.1, scale]: no exact zeros, both signs.</summary>
    public static float[] Random(Random random, long n, float scale = 1f)
    {
        var data = new float[n];
        for (long i = 0; i < n; i++)
        {
            float magnitude = (float)(0.1 + random.NextDouble() * (scale - 0.1));
            data[i] = random.Next(2) == 0 ? magnitude : -magnitude;
        }
        return data;
    }

    public static float[] Poison(long n)
    {
        var data = new float[n];
        Array.Fill(data, float.NaN);
        return data;
    }

    /// <summary>Largest |a-b| / (atol + rtol*|b|); at most 1 means within tolerance.</summary>
    public static double ToleranceRatio(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double rtol, double atol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (float.IsNaN(actual[i]) || float.IsInfinity(actual[i]))
                Assert.Fail($"element {i} is {actual[i]} (expected {expected[i]}): not written or not finite");
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (atol + rtol * Math.Abs(expected[i])));
        }
        return worst;
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double rtol = 1e-4, double atol = 1e-5, string what = "")
    {
        double ratio = ToleranceRatio(actual, expected, rtol, atol);
        Assert.True(ratio <= 1, $"{what}: error is {ratio:F2}x the tolerance (rtol {rtol}, atol {atol})");
    }
}
