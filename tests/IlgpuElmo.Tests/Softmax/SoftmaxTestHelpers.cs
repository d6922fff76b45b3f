using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Softmax;

/// <summary>Uploading weights and prior gradients into heads, and checking what comes back.</summary>
static class SoftmaxTestHelpers
{
    /// <summary>Fills a parameter with random values (scale) and its gradient with a random prior; returns both.</summary>
    public static (float[] value, float[] prior) Randomize(ComputeDevice d, Parameter parameter, Random random, float scale = 1f)
    {
        var value = TestData.Random(random, parameter.Value.Length, scale);
        var prior = TestData.Random(random, parameter.Value.Length, 0.5f);
        parameter.Value.CopyFrom(d.Stream, value);
        parameter.Gradient.CopyFrom(d.Stream, prior);
        return (value, prior);
    }

    /// <summary>prior + reference gradient, for an accumulated parameter gradient.</summary>
    public static double[] Plus(float[] prior, double[] gradient) => prior.Select((x, i) => x + gradient[i]).ToArray();

    public static void AssertGradient(ComputeDevice d, Parameter parameter, float[] prior, double[] expected, string what, double rtol = 1e-4, double atol = 2e-5) =>
        TestData.AssertClose(parameter.Gradient.ToArray(d.Stream), Plus(prior, expected), rtol, atol, what);

    /// <summary>Each row's log-sum-exp of log-probabilities [n, v] must be 0 (the row sums to 1).</summary>
    public static void AssertNormalized(float[] logProbs, int n, int v, double tolerance = 1e-5)
    {
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < v; c++) max = Math.Max(max, logProbs[r * v + c]);
            for (int c = 0; c < v; c++) sum += Math.Exp(logProbs[r * v + c] - max);
            double lse = max + Math.Log(sum);
            Assert.True(Math.Abs(lse) <= tolerance, $"row {r}: log-probabilities have logsumexp {lse}, expected 0 within {tolerance}");
        }
    }

    public static DeviceTensor<float> Poisoned(ComputeDevice d, params int[] dims) => d.Upload<float>(TestData.Poison(new Shape(dims).Size), dims);
}
