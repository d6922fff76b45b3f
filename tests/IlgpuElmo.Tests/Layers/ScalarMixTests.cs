using IlgpuElmo.Layers;
using IlgpuElmo.Tests.Reference;

namespace IlgpuElmo.Tests.Layers;

public class ScalarMixTests
{
    const int L = 3, T = 5, B = 3, D = 8;
    static readonly int[] Lengths = [5, 2, 0];

    static double[] D64(float[] x) => x.Select(v => (double)v).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReferenceGradientsMatchFiniteDifferences(bool layerNorm)
    {
        var random = new Random(11);
        var layers = D64(TestData.Random(random, L * T * B * D, 2f));
        var s = D64(TestData.Random(random, L));
        double gamma = 1.3;
        var gradOutput = D64(TestData.Random(random, T * B * D));
        double Loss(double[] h, double[] sc, double g) =>
            ReferenceScalarMix.Forward(h, L, T, B, D, Lengths, sc, g, layerNorm).Zip(gradOutput, (o, r) => o * r).Sum();
        var (gradLayers, gradScalars, gradGamma) = ReferenceScalarMix.Backward(layers, L, T, B, D, Lengths, s, gamma, layerNorm, gradOutput);
        const double h = 1e-6;
        // Elements at unmasked positions (t=0,b=0; t=1,b=1) and masked ones (t=3,b=1; t=4,b=2) in each layer.
        foreach (int l in new[] { 0, 2 })
            foreach (var (t, b, d) in new[] { (0, 0, 1), (1, 1, 7), (3, 1, 2), (4, 2, 5) })
            {
                int index = ((l * T + t) * B + b) * D + d;
                var plus = (double[])layers.Clone();
                var minus = (double[])layers.Clone();
                plus[index] += h;
                minus[index] -= h;
                double numeric = (Loss(plus, s, gamma) - Loss(minus, s, gamma)) / (2 * h);
                Assert.Equal(numeric, gradLayers[index], 1e-6);
            }
        for (int l = 0; l < L; l++)
        {
            var plus = (double[])s.Clone();
            var minus = (double[])s.Clone();
            plus[l] += h;
            minus[l] -= h;
            Assert.Equal((Loss(layers, plus, gamma) - Loss(layers, minus, gamma)) / (2 * h), gradScalars[l], 1e-6);
        }
        Assert.Equal((Loss(layers, s, gamma + h) - Loss(layers, s, gamma - h)) / (2 * h), gradGamma, 1e-6);
    }

    [Theory]
    [InlineData("simulate", false)]
    [InlineData("simulate", true)]
    [InlineData("host", false)]
    [InlineData("host", true)]
    public void ForwardAndBackwardMatchTheReference(string mode, bool layerNorm)
    {
        var device = TestDevices.Get(mode);
        var random = new Random(layerNorm ? 12 : 13);
        float[] layers = TestData.Random(random, L * T * B * D, 2f), s = TestData.Random(random, L), gradOut = TestData.Random(random, T * B * D);
        float[] priorS = TestData.Random(random, L), priorGamma = TestData.Random(random, 1), priorLayers = TestData.Random(random, L * T * B * D);
        const float gamma = 1.3f;
        using var mix = new ScalarMix(device, L, layerNorm, "task", s, gamma);
        Assert.Equal(["task_ELMo_W", "task_ELMo_gamma"], mix.Parameters.Select(p => p.Name));
        mix.Scalars.Gradient.CopyFrom(device.Stream, priorS);
        mix.Gamma.Gradient.CopyFrom(device.Stream, priorGamma);
        using var dLayers = device.Upload<float>(layers, L, T, B, D);
        using var dLengths = device.Upload<int>(Lengths, B);
        using var output = device.Upload<float>(TestData.Poison(T * B * D), T, B, D);
        mix.Forward(dLayers, dLengths, output);

        var expected = ReferenceScalarMix.Forward(D64(layers), L, T, B, D, Lengths, D64(s), gamma, layerNorm);
        TestData.AssertClose(output.ToArray(device.Stream), expected, 1e-4, 1e-5, "output");

        using var dGradOut = device.Upload<float>(gradOut, T, B, D);
        using var gradLayers = device.Upload<float>(TestData.Poison(L * T * B * D), L, T, B, D);
        mix.Backward(dGradOut, gradLayers);
        var (eLayers, eScalars, eGamma) = ReferenceScalarMix.Backward(D64(layers), L, T, B, D, Lengths, D64(s), gamma, layerNorm, D64(gradOut));
        TestData.AssertClose(gradLayers.ToArray(device.Stream), eLayers, 1e-4, 1e-5, "d layers");
        TestData.AssertClose(mix.Scalars.Gradient.ToArray(device.Stream), eScalars.Select((g, l) => g + priorS[l]).ToArray(), 1e-4, 1e-4, "d s (accumulated)");
        TestData.AssertClose(mix.Gamma.Gradient.ToArray(device.Stream), [eGamma + priorGamma[0]], 1e-4, 1e-4, "d gamma (accumulated)");

        gradLayers.CopyFrom(device.Stream, priorLayers);
        mix.Backward(dGradOut, gradLayers, accumulate: true);
        TestData.AssertClose(gradLayers.ToArray(device.Stream), eLayers.Select((g, i) => g + priorLayers[i]).ToArray(), 1e-4, 1e-5, "d layers accumulated");

        // The parameters-only backward adds the same dL/ds and dL/dgamma (a second time) and writes no layers' gradient.
        mix.ParameterBackward(dGradOut);
        TestData.AssertClose(mix.Scalars.Gradient.ToArray(device.Stream), eScalars.Select((g, l) => 3 * g + priorS[l]).ToArray(), 1e-4, 1e-4, "d s (parameters only)");
        TestData.AssertClose(mix.Gamma.Gradient.ToArray(device.Stream), [3 * eGamma + priorGamma[0]], 1e-4, 1e-4, "d gamma (parameters only)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void UnmaskedRankThreeLayersAndTheNormalizedWeights(string mode)
    {
        var device = TestDevices.Get(mode);
        var random = new Random(14);
        int n = 7, d = 5;
        float[] layers = TestData.Random(random, 2 * n * d), s = [0.5f, -0.25f];
        using var mix = new ScalarMix(device, 2, layerNorm: true, initialScalars: s);
        using var dLayers = device.Upload<float>(layers, 2, n, d);
        using var output = device.Upload<float>(TestData.Poison(n * d), n, d);
        mix.Forward(dLayers, null, output);
        var expected = ReferenceScalarMix.Forward(D64(layers), 2, n, 1, d, null, D64(s), 1.0, true);
        TestData.AssertClose(output.ToArray(device.Stream), expected, 1e-4, 1e-5, "rank-3 output");
        var w = ReferenceScalarMix.Softmax(D64(s));
        TestData.AssertClose(mix.NormalizedWeights(), w, 1e-6, 1e-7, "softmax(s)");
        using var wrong = device.Upload<float>(new float[n * d], d, n);
        Assert.Throws<IlgpuElmo.Tensors.ShapeMismatchException>(() => mix.Forward(dLayers, null, wrong));
    }
}
