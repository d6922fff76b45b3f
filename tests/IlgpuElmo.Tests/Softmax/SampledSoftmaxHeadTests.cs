using IlgpuElmo.Softmax;
using IlgpuElmo.Tests.Reference;
using static IlgpuElmo.Tests.Softmax.SoftmaxTestHelpers;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Softmax;

public class SampledSoftmaxHeadTests
{
    const int P = 16, V = 200, S = 40;
    const ulong Seed = 5;
    const float LossScale = 0.37f;
    // Frequent words (almost surely sampled: accidental hits), repeats, padding, rare words.
    static readonly int[] Targets = [0, 1, 3, -1, 150, 0, 199, 64, 3, -1, 2, 120, 5];

    [Fact]
    public void ReferenceGradientsMatchFiniteDifferences()
    {
        var random = new Random(1);
        int[] samples = [0, 7, 3, 150, 42];
        double LogQ(int k) => 0.1 * k % 1.3 - 0.5;
        var h = ReferenceSoftmax.ToDouble(TestData.Random(random, Targets.Length * P));
        var w = ReferenceSoftmax.ToDouble(TestData.Random(random, V * P));
        var b = ReferenceSoftmax.ToDouble(TestData.Random(random, V));
        var r = ReferenceSoftmax.Sampled(h, w, b, Targets, P, samples, LogQ, 1.0);
        double Loss() => ReferenceSoftmax.Sampled(h, w, b, Targets, P, samples, LogQ, 1.0).Loss;
        foreach (int i in new[] { 0, 7, 2 * P + 3, 12 * P + 15 })
            Assert.Equal(r.GradHidden[i], ReferenceSoftmax.FiniteDifference(h, i, Loss), 6);
        foreach (int i in new[] { 0, 3 * P + 1, 150 * P + 2, 199 * P, 7 * P + 5 })
            Assert.Equal(r.GradWeight[i], ReferenceSoftmax.FiniteDifference(w, i, Loss), 6);
        foreach (int i in new[] { 0, 3, 7, 120, 199 })
            Assert.Equal(r.GradBias[i], ReferenceSoftmax.FiniteDifference(b, i, Loss), 6);
        Assert.Equal(0, r.GradWeight[100 * P]);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void LossGradientsAndTouchedRowsMatchReference(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(2);
        using var head = new SampledSoftmaxHead(d, V, P, S, Seed);
        var (w, priorW) = Randomize(d, head.Weight, random);
        var (b, priorB) = Randomize(d, head.Bias, random);
        int n = Targets.Length;
        var h = TestData.Random(random, n * P);
        using var dh = d.Upload<float>(h, n, P);
        using var dt = d.Upload<int>(Targets, n);
        using var grad = Poisoned(d, n, P);

        head.BeginStep(d.Stream);
        double loss = head.ForwardBackward(d.Stream, dh, dt, grad, LossScale);

        var sampler = new LogUniformSampler(V, S, Seed);
        var ids = new int[S];
        int tries = sampler.DrawUnique(0, ids);
        Assert.Contains(Targets, t => ids.Contains(t));
        Assert.Contains(Targets, t => t >= 0 && !ids.Contains(t));
        var r = ReferenceSoftmax.Sampled(ReferenceSoftmax.ToDouble(h), ReferenceSoftmax.ToDouble(w), ReferenceSoftmax.ToDouble(b), Targets, P, ids,
            k => Math.Log(sampler.ExpectedCount(k, tries)), LossScale);
        Assert.Equal(r.Loss, loss, r.Loss * 1e-5);
        TestData.AssertClose(grad.ToArray(d.Stream), r.GradHidden, 1e-4, 2e-5, "dL/dh");
        AssertGradient(d, head.Weight, priorW, r.GradWeight, "softmax/W gradient");
        AssertGradient(d, head.Bias, priorB, r.GradBias, "softmax/b gradient");
        var touched = ids.Concat(Targets.Where(t => t >= 0)).Distinct().ToHashSet();
        AssertTouched(d, head, touched);

        // A second call in the same step (the other direction): the union; a new step starts afresh.
        head.ForwardBackward(d.Stream, dh, dt, grad, LossScale);
        sampler.DrawUnique(1, ids);
        AssertTouched(d, head, touched.Concat(ids).ToHashSet());
        head.BeginStep(d.Stream);
        head.ForwardBackward(d.Stream, dh, dt, grad, LossScale);
        sampler.DrawUnique(2, ids);
        AssertTouched(d, head, ids.Concat(Targets.Where(t => t >= 0)).ToHashSet());
    }

    static void AssertTouched(ComputeDevice d, SampledSoftmaxHead head, HashSet<int> expected)
    {
        Assert.Equal(expected.Count, head.Weight.TouchedCount);
        Assert.Equal(expected.Count, head.Bias.TouchedCount);
        var rows = head.Weight.TouchedRows!.ToArray(d.Stream).Take(head.Weight.TouchedCount).ToArray();
        Assert.Equal(rows.Length, rows.Distinct().Count());
        Assert.True(expected.SetEquals(rows), "touched rows differ from samples + targets");
    }

    /// <summary>
    /// S must stay below V, so "every class sampled" is done per target word t: the rows with target t (all
    /// others padding) against the V - 1 samples that are every other word. Each row then scores the whole
    /// vocabulary once, and without the log-Q correction the summed losses and accumulated gradients over the
    /// calls are the full softmax's.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void WithEveryClassSampledTheLossIsTheFullSoftmax(string mode)
    {
        var d = TestDevices.Get(mode);
        var random = new Random(3);
        using var head = new SampledSoftmaxHead(d, V, P, V - 1, Seed) { SubtractLogQ = false };
        var (w, priorW) = Randomize(d, head.Weight, random);
        var (b, priorB) = Randomize(d, head.Bias, random);
        int n = Targets.Length;
        var h = TestData.Random(random, n * P);
        using var dh = d.Upload<float>(h, n, P);
        using var grad = Poisoned(d, n, P);
        var gradHidden = new float[n * P];
        double loss = 0;
        foreach (int word in Targets.Where(t => t >= 0).Distinct())
        {
            var only = Targets.Select(t => t == word ? t : -1).ToArray();
            using var dt = d.Upload<int>(only, n);
            // Every other word, accidental hits included: a row's target never appears among its own samples here.
            var ids = Enumerable.Range(0, V).Where(k => k != word).Reverse().ToArray();
            loss += head.ForwardBackward(d.Stream, dh, dt, grad, LossScale, ids, tries: 5000);
            var g = grad.ToArray(d.Stream);
            for (int r = 0; r < n; r++)
                if (only[r] >= 0) Array.Copy(g, r * P, gradHidden, r * P, P);
                else Assert.All(g.Skip(r * P).Take(P), x => Assert.Equal(0f, x));
        }

        var full = ReferenceSoftmax.Full(ReferenceSoftmax.ToDouble(h), ReferenceSoftmax.ToDouble(w), ReferenceSoftmax.ToDouble(b), Targets, P, LossScale);
        Assert.Equal(full.Loss, loss, full.Loss * 1e-5);
        TestData.AssertClose(gradHidden, full.GradHidden, 1e-4, 2e-5, "dL/dh");
        AssertGradient(d, head.Weight, priorW, full.GradWeight, "softmax/W gradient");
        AssertGradient(d, head.Bias, priorB, full.GradBias, "softmax/b gradient");
        using var all = d.Upload<int>(Targets, n);
        Assert.Equal(full.Loss, head.Loss(d.Stream, dh, all), full.Loss * 1e-5);
    }

    [Fact]
    public void AveragedOverManyDrawsTheGradientApproachesTheFullSoftmax()
    {
        var d = TestDevices.Host;
        const int v = 50, p = 8, s = 25, draws = 400;
        int[] targets = [0, 3, 17, 49, 8, 1];
        int n = targets.Length;
        var random = new Random(4);
        using var head = new SampledSoftmaxHead(d, v, p, s, 9);
        var w = TestData.Random(random, v * p, 0.5f);
        var b = TestData.Random(random, v, 0.5f);
        head.Weight.Value.CopyFrom(d.Stream, w);
        head.Bias.Value.CopyFrom(d.Stream, b);
        head.Weight.Gradient.Clear(d.Stream);
        var h = TestData.Random(random, n * p);
        using var dh = d.Upload<float>(h, n, p);
        using var dt = d.Upload<int>(targets, n);
        using var grad = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(n, p));
        var sumGradHidden = new double[n * p];
        double firstDrawError = 0;
        var full = ReferenceSoftmax.Full(ReferenceSoftmax.ToDouble(h), ReferenceSoftmax.ToDouble(w), ReferenceSoftmax.ToDouble(b), targets, p, 1.0);
        for (int i = 0; i < draws; i++)
        {
            head.ForwardBackward(d.Stream, dh, dt, grad, 1f);
            var g = grad.ToArray(d.Stream);
            for (int k = 0; k < g.Length; k++) sumGradHidden[k] += g[k];
            if (i == 0) firstDrawError = RelativeError(g.Select(x => (double)x).ToArray(), full.GradHidden);
        }
        double hiddenError = RelativeError(sumGradHidden.Select(x => x / draws).ToArray(), full.GradHidden);
        double weightError = RelativeError(head.Weight.Gradient.ToArray(d.Stream).Select(x => (double)x / draws).ToArray(), full.GradWeight);
        Assert.True(hiddenError < 0.1 && hiddenError < firstDrawError / 2,
            $"dL/dh averaged over {draws} draws is {hiddenError:F3} from the full softmax's (relative), one draw {firstDrawError:F3}");
        Assert.True(weightError < 0.1, $"dL/dW averaged over {draws} draws is {weightError:F3} from the full softmax's (relative)");
    }

    static double RelativeError(double[] actual, double[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }

    [Fact]
    public void SameSeedSameLosses()
    {
        var d = TestDevices.Host;
        var random = new Random(5);
        var w = TestData.Random(random, V * P);
        var h = TestData.Random(random, Targets.Length * P);
        using var dh = d.Upload<float>(h, Targets.Length, P);
        using var dt = d.Upload<int>(Targets, Targets.Length);
        using var grad = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(Targets.Length, P));
        double[] Run(ulong seed)
        {
            using var head = new SampledSoftmaxHead(d, V, P, S, seed);
            head.Weight.Value.CopyFrom(d.Stream, w);
            return Enumerable.Range(0, 3).Select(_ => head.ForwardBackward(d.Stream, dh, dt, grad, 1f)).ToArray();
        }
        var first = Run(Seed);
        Assert.Equal(first, Run(Seed));
        Assert.NotEqual(first, Run(Seed + 1));
        Assert.NotEqual(first[0], first[1]);
    }

    /// <summary>
    /// The next sample is drawn on a worker thread while a call runs; whether that prefetch is used or the
    /// trainer jumps to another call index, call k's loss is the one its own sample (seed, k) gives.
    /// </summary>
    [Fact]
    public void ACallsSampleDependsOnlyOnSeedAndCallWhateverWasPrefetched()
    {
        var d = TestDevices.Host;
        var random = new Random(6);
        var w = TestData.Random(random, V * P);
        var h = TestData.Random(random, Targets.Length * P);
        using var dh = d.Upload<float>(h, Targets.Length, P);
        using var dt = d.Upload<int>(Targets, Targets.Length);
        using var grad = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(Targets.Length, P));
        using var inOrder = new SampledSoftmaxHead(d, V, P, S, Seed);
        using var jumping = new SampledSoftmaxHead(d, V, P, S, Seed);
        inOrder.Weight.Value.CopyFrom(d.Stream, w);
        jumping.Weight.Value.CopyFrom(d.Stream, w);
        var sequence = Enumerable.Range(0, 4).Select(_ => inOrder.ForwardBackward(d.Stream, dh, dt, grad, 1f)).ToArray();
        foreach (long call in new long[] { 3, 1, 2, 0 })
        {
            jumping.Calls = call;
            Assert.Equal(sequence[call], jumping.ForwardBackward(d.Stream, dh, dt, grad, 1f));
            var ids = new int[S];
            int tries = jumping.Sampler.DrawUnique(call, ids);
            Assert.Equal(sequence[call], jumping.ForwardBackward(d.Stream, dh, dt, grad, 1f, ids, tries));
        }
    }

    [Fact]
    public void BadInputIsReported()
    {
        var d = TestDevices.Host;
        Assert.Throws<ArgumentException>(() => new SampledSoftmaxHead(d, V, P, V, Seed));
        using var head = new SampledSoftmaxHead(d, V, P, S, Seed);
        using var dh = d.Upload<float>(TestData.Random(new Random(6), 2 * P), 2, P);
        using var dt = d.Upload<int>([3, V + 5], 2);
        using var grad = Poisoned(d, 2, P);
        var e = Assert.Throws<InputException>(() => head.ForwardBackward(d.Stream, dh, dt, grad, 1f));
        Assert.Contains($"target word id {V + 5} (row 1 of 2)", e.Message);
        Assert.Throws<ArgumentException>(() => head.ForwardBackward(d.Stream, dh, dt, grad, 1f, Enumerable.Repeat(1, S).ToArray(), S));
    }
}
