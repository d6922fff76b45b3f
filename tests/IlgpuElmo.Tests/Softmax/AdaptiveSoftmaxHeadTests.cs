using IlgpuElmo.Softmax;
using IlgpuElmo.Tests.Reference;
using static IlgpuElmo.Tests.Softmax.SoftmaxTestHelpers;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Softmax;

public class AdaptiveSoftmaxHeadTests
{
    const int P = 16, V = 120;
    const float DivValue = 2f, LossScale = 0.37f;
    static readonly int[] Cutoffs = [20, 50, 90];
    // Shortlist, each cluster's first and last word, repeats, padding.
    static readonly int[] Targets = [0, 19, 20, 49, -1, 50, 89, 90, 119, 3, 20, -1, 100, 7, 60];
    // Nothing in cluster 1 ([50, 90)): an empty cluster is skipped.
    static readonly int[] TargetsWithEmptyCluster = [0, 19, 20, 49, -1, 95, 119, 3];

    /// <summary>(mode, head bias, chunked): chunks of 8 columns per row force the two-pass path in the head and every cluster.</summary>
    public static TheoryData<string, bool, bool> Cases => new()
    {
        { "simulate", false, false }, { "simulate", true, true }, { "host", true, false }, { "host", false, true },
    };

    static AdaptiveSoftmaxHead Create(ComputeDevice d, bool headBias, long budget, Random random, out ReferenceSoftmax.AdaptiveWeights weights,
        out List<(IlgpuElmo.Layers.Parameter parameter, float[] prior)> priors)
    {
        var head = new AdaptiveSoftmaxHead(d, V, P, Cutoffs, DivValue, headBias, budget);
        priors = [];
        double[] Fill(IlgpuElmo.Layers.Parameter parameter, List<(IlgpuElmo.Layers.Parameter, float[])> list)
        {
            var (value, prior) = Randomize(d, parameter, random);
            list.Add((parameter, prior));
            return ReferenceSoftmax.ToDouble(value);
        }
        var headW = Fill(head.HeadWeight, priors);
        var headB = head.HeadBias is null ? null : Fill(head.HeadBias, priors);
        var proj = new double[Cutoffs.Length][];
        var outW = new double[Cutoffs.Length][];
        for (int i = 0; i < Cutoffs.Length; i++)
        {
            proj[i] = Fill(head.TailProjections[i], priors);
            outW[i] = Fill(head.TailWeights[i], priors);
        }
        weights = new ReferenceSoftmax.AdaptiveWeights(P, [.. Cutoffs, V], headW, headB, proj, outW);
        return head;
    }

    [Fact]
    public void ShapesAndNamesFollowTorch()
    {
        using var head = new AdaptiveSoftmaxHead(TestDevices.Host, V, P, Cutoffs, DivValue, headBias: true);
        Assert.Equal(new[] { "adaptive/head/W", "adaptive/head/b", "adaptive/tail0/proj", "adaptive/tail0/W", "adaptive/tail1/proj",
            "adaptive/tail1/W", "adaptive/tail2/proj", "adaptive/tail2/W" }, head.Parameters.Select(p => p.Name));
        Assert.Equal(new IlgpuElmo.Tensors.Shape(23, P), head.HeadWeight.Shape);
        Assert.Equal(new[] { 8, 4, 2 }, head.TailProjections.Select(p => p.Shape[0]));
        Assert.Equal(new[] { 30, 40, 30 }, head.TailWeights.Select(p => p.Shape[0]));
        Assert.Equal(512 / 4, AdaptiveSoftmaxHead.ProjectionSize(512, 4f, 0));
        Assert.Equal(512 / 64, AdaptiveSoftmaxHead.ProjectionSize(512, 4f, 2));
    }

    [Fact]
    public void ReferenceGradientsMatchFiniteDifferences()
    {
        var random = new Random(1);
        int f0 = 8, f1 = 4, f2 = 2;
        var a = new ReferenceSoftmax.AdaptiveWeights(P, [.. Cutoffs, V],
            ReferenceSoftmax.ToDouble(TestData.Random(random, 23 * P)), ReferenceSoftmax.ToDouble(TestData.Random(random, 23)),
            [ReferenceSoftmax.ToDouble(TestData.Random(random, f0 * P)), ReferenceSoftmax.ToDouble(TestData.Random(random, f1 * P)), ReferenceSoftmax.ToDouble(TestData.Random(random, f2 * P))],
            [ReferenceSoftmax.ToDouble(TestData.Random(random, 30 * f0)), ReferenceSoftmax.ToDouble(TestData.Random(random, 40 * f1)), ReferenceSoftmax.ToDouble(TestData.Random(random, 30 * f2))]);
        var h = ReferenceSoftmax.ToDouble(TestData.Random(random, Targets.Length * P));
        var r = ReferenceSoftmax.Adaptive(a, h, Targets, 1.0);
        double Loss() => ReferenceSoftmax.Adaptive(a, h, Targets, 1.0).Loss;
        foreach (int i in new[] { 0, 2 * P + 3, 6 * P + 5, 8 * P + 15, 14 * P + 1 })
            Assert.Equal(r.GradHidden[i], ReferenceSoftmax.FiniteDifference(h, i, Loss), 6);
        foreach (int i in new[] { 0, 19 * P + 2, 21 * P + 7, 22 * P })
            Assert.Equal(r.GradHeadW[i], ReferenceSoftmax.FiniteDifference(a.HeadW, i, Loss), 6);
        foreach (int i in new[] { 0, 20, 22 })
            Assert.Equal(r.GradHeadB![i], ReferenceSoftmax.FiniteDifference(a.HeadB!, i, Loss), 6);
        for (int c = 0; c < 3; c++)
        {
            foreach (int i in new[] { 0, a.Proj[c].Length - 1, a.Proj[c].Length / 2 + 1 })
                Assert.Equal(r.GradProj[c][i], ReferenceSoftmax.FiniteDifference(a.Proj[c], i, Loss), 6);
            foreach (int i in new[] { 0, a.Out[c].Length - 1, a.Out[c].Length / 3 })
                Assert.Equal(r.GradOut[c][i], ReferenceSoftmax.FiniteDifference(a.Out[c], i, Loss), 6);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchReference(string mode, bool headBias, bool chunked)
    {
        foreach (var targets in new[] { Targets, TargetsWithEmptyCluster })
        {
            var d = TestDevices.Get(mode);
            var random = new Random(2);
            int n = targets.Length;
            using var head = Create(d, headBias, chunked ? n * 8L : FullSoftmaxHead.DefaultMaxLogitElements, random, out var a, out var priors);
            var h = TestData.Random(random, n * P);
            using var dh = d.Upload<float>(h, n, P);
            using var dt = d.Upload<int>(targets, n);
            using var grad = Poisoned(d, n, P);

            double loss = head.ForwardBackward(d.Stream, dh, dt, grad, LossScale);

            var r = ReferenceSoftmax.Adaptive(a, ReferenceSoftmax.ToDouble(h), targets, LossScale);
            Assert.Equal(r.Loss, loss, r.Loss * 1e-5);
            TestData.AssertClose(grad.ToArray(d.Stream), r.GradHidden, 1e-4, 2e-5, "dL/dh");
            var expected = new List<double[]> { r.GradHeadW };
            if (r.GradHeadB is not null) expected.Add(r.GradHeadB);
            for (int i = 0; i < Cutoffs.Length; i++)
            {
                expected.Add(r.GradProj[i]);
                expected.Add(r.GradOut[i]);
            }
            Assert.Equal(expected.Count, priors.Count);
            for (int i = 0; i < priors.Count; i++)
                AssertGradient(d, priors[i].parameter, priors[i].prior, expected[i], priors[i].parameter.Name + " gradient");
            Assert.Equal(loss, head.Loss(d.Stream, dh, dt), loss * 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogProbabilitiesAreNormalizedAndMatchReference(string mode, bool headBias, bool chunked)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(3);
        int n = Targets.Length;
        using var head = Create(d, headBias, chunked ? n * 8L : FullSoftmaxHead.DefaultMaxLogitElements, random, out var a, out _);
        var h = TestData.Random(random, n * P);
        using var dh = d.Upload<float>(h, n, P);
        using var dt = d.Upload<int>(Targets, n);
        using var logProbs = Poisoned(d, n, V);
        using var targetLogProbs = Poisoned(d, n);

        head.LogProbabilities(d.Stream, dh, logProbs);
        head.TargetLogProbabilities(d.Stream, dh, dt, targetLogProbs);

        var expected = ReferenceSoftmax.AdaptiveLogProbs(a, ReferenceSoftmax.ToDouble(h), n);
        var actual = logProbs.ToArray(d.Stream);
        TestData.AssertClose(actual, expected, 1e-5, 1e-5, "log-probabilities");
        AssertNormalized(actual, n, V);
        var expectedTargets = Targets.Select((t, r) => t < 0 ? 0.0 : expected[r * V + t]).ToArray();
        TestData.AssertClose(targetLogProbs.ToArray(d.Stream), expectedTargets, 1e-5, 1e-5, "target log-probabilities");
    }

    [Theory]
    [InlineData(new[] { 50, 20 }, "strictly increasing")]
    [InlineData(new[] { 20, 20 }, "strictly increasing")]
    [InlineData(new[] { 20, 120 }, "between 1 and 119")]
    [InlineData(new[] { 0, 50 }, "between 1 and 119")]
    [InlineData(new int[0], "empty")]
    [InlineData(new[] { 10, 20, 30, 40, 50 }, "project 16 features")]
    public void BadCutoffsAreReported(int[] cutoffs, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new AdaptiveSoftmaxHead(TestDevices.Host, V, P, cutoffs, DivValue));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TargetOutsideTheVocabularyIsAnInputError()
    {
        var d = TestDevices.Host;
        using var head = new AdaptiveSoftmaxHead(d, V, P, Cutoffs, DivValue);
        using var dh = d.Upload<float>(TestData.Random(new Random(4), 2 * P), 2, P);
        using var dt = d.Upload<int>([V, 3], 2);
        using var grad = Poisoned(d, 2, P);
        var e = Assert.Throws<InputException>(() => head.ForwardBackward(d.Stream, dh, dt, grad, 1f));
        Assert.Contains($"target word id {V} (row 0 of 2)", e.Message);
    }
}
