using IlgpuElmo.Softmax;
using IlgpuElmo.Tests.Reference;
using static IlgpuElmo.Tests.Softmax.SoftmaxTestHelpers;

namespace IlgpuElmo.Tests.Softmax;

public class FullSoftmaxHeadTests
{
    const int P = 16, V = 300;
    const float LossScale = 0.37f;
    // Padding (-1), repeats, the first and last words.
    static readonly int[] Targets = [5, 0, 299, -1, 17, 5, 150, 42, -1, 298, 1, 77, 200];

    /// <summary>Whole vocabulary in one chunk (fused gradient pass), or chunks of 64 columns with a partial last one (recompute pass).</summary>
    public static TheoryData<string, bool> ModesAndChunking => new() { { "simulate", false }, { "simulate", true }, { "host", false }, { "host", true } };

    static long Budget(bool chunked) => chunked ? Targets.Length * 64L : FullSoftmaxHead.DefaultMaxLogitElements;

    [Fact]
    public void ReferenceGradientsMatchFiniteDifferences()
    {
        var random = new Random(1);
        var h = ReferenceSoftmax.ToDouble(TestData.Random(random, Targets.Length * P));
        var w = ReferenceSoftmax.ToDouble(TestData.Random(random, V * P));
        var b = ReferenceSoftmax.ToDouble(TestData.Random(random, V));
        var r = ReferenceSoftmax.Full(h, w, b, Targets, P, 1.0);
        double Loss() => ReferenceSoftmax.Full(h, w, b, Targets, P, 1.0).Loss;
        foreach (int i in new[] { 0, 7, 2 * P + 3, 12 * P + 15 })
            Assert.Equal(r.GradHidden[i], ReferenceSoftmax.FiniteDifference(h, i, Loss), 6);
        foreach (int i in new[] { 5 * P + 1, 299 * P + 2, 100 * P })
            Assert.Equal(r.GradWeight[i], ReferenceSoftmax.FiniteDifference(w, i, Loss), 6);
        foreach (int i in new[] { 0, 5, 150, 250 })
            Assert.Equal(r.GradBias[i], ReferenceSoftmax.FiniteDifference(b, i, Loss), 6);
        Assert.Equal(0, r.GradHidden[3 * P + 4]);
    }

    [Theory]
    [MemberData(nameof(ModesAndChunking))]
    public void LossAndGradientsMatchReference(string mode, bool chunked)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(2);
        using var head = new FullSoftmaxHead(d, V, P, Budget(chunked));
        var (w, priorW) = Randomize(d, head.Weight, random);
        var (b, priorB) = Randomize(d, head.Bias, random);
        var h = TestData.Random(random, Targets.Length * P);
        using var dh = d.Upload<float>(h, Targets.Length, P);
        using var dt = d.Upload<int>(Targets, Targets.Length);
        using var grad = Poisoned(d, Targets.Length, P);

        double loss = head.ForwardBackward(d.Stream, dh, dt, grad, LossScale);

        var r = ReferenceSoftmax.Full(ReferenceSoftmax.ToDouble(h), ReferenceSoftmax.ToDouble(w), ReferenceSoftmax.ToDouble(b), Targets, P, LossScale);
        Assert.Equal(r.Loss, loss, r.Loss * 1e-5);
        TestData.AssertClose(grad.ToArray(d.Stream), r.GradHidden, 1e-4, 2e-5, "dL/dh");
        AssertGradient(d, head.Weight, priorW, r.GradWeight, "softmax/W gradient");
        AssertGradient(d, head.Bias, priorB, r.GradBias, "softmax/b gradient");
        Assert.Equal(loss, head.Loss(d.Stream, dh, dt), loss * 1e-6);
    }

    [Theory]
    [MemberData(nameof(ModesAndChunking))]
    public void LogProbabilitiesAreNormalizedAndMatchReference(string mode, bool chunked)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(3);
        using var head = new FullSoftmaxHead(d, V, P, Budget(chunked));
        var (w, _) = Randomize(d, head.Weight, random);
        var (b, _) = Randomize(d, head.Bias, random);
        int n = Targets.Length;
        var h = TestData.Random(random, n * P);
        using var dh = d.Upload<float>(h, n, P);
        using var dt = d.Upload<int>(Targets, n);
        using var logProbs = Poisoned(d, n, V);
        using var targetLogProbs = Poisoned(d, n);

        head.LogProbabilities(d.Stream, dh, logProbs);
        head.TargetLogProbabilities(d.Stream, dh, dt, targetLogProbs);

        var expected = ReferenceSoftmax.FullLogProbs(ReferenceSoftmax.ToDouble(h), ReferenceSoftmax.ToDouble(w), ReferenceSoftmax.ToDouble(b), n, P);
        var actual = logProbs.ToArray(d.Stream);
        TestData.AssertClose(actual, expected, 1e-5, 1e-5, "log-probabilities");
        AssertNormalized(actual, n, V);
        var expectedTargets = Targets.Select((t, r) => t < 0 ? 0.0 : expected[r * V + t]).ToArray();
        TestData.AssertClose(targetLogProbs.ToArray(d.Stream), expectedTargets, 1e-5, 1e-5, "target log-probabilities");
    }

    [Fact]
    public void TargetOutsideTheVocabularyIsAnInputError()
    {
        var d = TestDevices.Host;
        using var head = new FullSoftmaxHead(d, V, P);
        using var dh = d.Upload<float>(TestData.Random(new Random(4), 2 * P), 2, P);
        using var dt = d.Upload<int>([3, V], 2);
        using var grad = Poisoned(d, 2, P);
        var e = Assert.Throws<InputException>(() => head.ForwardBackward(d.Stream, dh, dt, grad, 1f));
        Assert.Contains($"target word id {V} (row 1 of 2)", e.Message);
        Assert.Throws<InputException>(() => head.Loss(d.Stream, dh, dt));
    }
}
