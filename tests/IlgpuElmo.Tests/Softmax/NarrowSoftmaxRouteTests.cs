using IlgpuElmo.Kernels;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Tests.Softmax;

/// <summary>
/// Host execution's fused route for few features (<see cref="NarrowSoftmaxHost"/>, the adaptive tails) against the
/// GEMM route it replaces, on the same inputs: every output bit for bit (loss per row, dX written, dW accumulated
/// onto a random prior, and the loss-only path), across KC blocks of rows, ragged class counts, rows whose target
/// is outside the classes, and outputs poisoned first so that every element must be written. The float64
/// references cover the route through the adaptive head's tests (their clusters have 8, 4 and 2 features).
/// </summary>
public class NarrowSoftmaxRouteTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 7, 1 }, { 5, 37, 10 }, { 13, 130, 40 }, { 300, 515, 10 }, { 64, 1000, 64 }, { 7, 2, 3 }, { 261, 97, 40 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheFusedRouteGivesTheGemmRoutesBits(int m, int classes, int features)
    {
        var device = TestDevices.Host;
        var host = Assert.IsType<HostGemm>(device.Gemm.Backend);
        var random = new Random(m * 31 + classes * 7 + features);
        float[] x = TestData.Random(random, (long)m * features, 2f), w = TestData.Random(random, (long)classes * features), prior = TestData.Random(random, (long)classes * features, 0.5f);
        int[] targets = Enumerable.Range(0, m).Select(r => r % 11 == 3 ? -1 : r % 13 == 5 ? classes + 2 : random.Next(classes)).ToArray();
        const float LossScale = 0.37f;

        (float[] Loss, float[] GradX, float[] GradW, float[] ForwardLoss, long MultiplyAdds) Run(bool fused)
        {
            using var workspace = new Workspace(device);
            var softmax = new ChunkedSoftmax(device, workspace, "t", 1L << 27) { FusesNarrowRows = fused };
            using var dx = device.Upload<float>(x, m, features);
            using var dw = device.Upload<float>(w, classes, features);
            using var dt = device.Upload<int>(targets, m);
            using var loss = SoftmaxTestHelpers.Poisoned(device, m);
            using var gradX = SoftmaxTestHelpers.Poisoned(device, m, features);
            using var gradW = device.Upload<float>(prior, classes, features);
            using var forwardLoss = SoftmaxTestHelpers.Poisoned(device, m);
            long before = host.MultiplyAdds;
            softmax.ForwardBackward(device.Stream, dx, dw, null, dt, loss, LossScale, gradX, gradW, null);
            softmax.Forward(device.Stream, dx, dw, null, dt, forwardLoss);
            long multiplyAdds = host.MultiplyAdds - before;
            return (loss.ToArray(device.Stream), gradX.ToArray(device.Stream), gradW.ToArray(device.Stream), forwardLoss.ToArray(device.Stream), multiplyAdds);
        }

        var gemmRoute = Run(fused: false);
        var fusedRoute = Run(fused: true);
        // The premise: one run took the GEMM route and the other did not call the GEMM at all.
        Assert.True(gemmRoute.MultiplyAdds > 0, "the GEMM route made no GEMM call");
        Assert.Equal(0, fusedRoute.MultiplyAdds);
        string what = $"[{m}, {features}] x [{classes}, {features}]^T";
        AssertBits(gemmRoute.Loss, fusedRoute.Loss, $"{what}: row losses");
        AssertBits(gemmRoute.GradX, fusedRoute.GradX, $"{what}: dX");
        AssertBits(gemmRoute.GradW, fusedRoute.GradW, $"{what}: dW");
        AssertBits(gemmRoute.ForwardLoss, fusedRoute.ForwardLoss, $"{what}: loss-only row losses");
        Assert.All(fusedRoute.GradX.Concat(fusedRoute.Loss), v => Assert.True(float.IsFinite(v), $"{what}: an output was not written"));
        Assert.Contains(fusedRoute.Loss, v => v > 0f);
    }

    static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i} is {actual[i]:R}, the GEMM route's {expected[i]:R}");
    }

    [Fact]
    public void DevicesRefuseTheHostOnlyRoute()
    {
        var device = TestDevices.Simulated;
        var kernels = device.Kernels(rt => new SoftmaxKernels(rt));
        using var x = device.Allocate<float>(new Shape(2, 3));
        var e = Assert.Throws<InvalidOperationException>(() => kernels.NarrowWeightGradient(device.Stream, 2, 4, 3, 256, x.View, x.View, x.View, x.View));
        Assert.Contains("host execution", e.Message);
    }
}
