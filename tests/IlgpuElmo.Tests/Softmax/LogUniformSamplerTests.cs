using IlgpuElmo.Softmax;

namespace IlgpuElmo.Tests.Softmax;

public class LogUniformSamplerTests
{
    [Fact]
    public void ProbabilitiesSumToOne()
    {
        var sampler = new LogUniformSampler(793471, 8192, 1);
        double total = 0;
        for (int k = 0; k < sampler.VocabularySize; k++) total += sampler.Probability(k);
        Assert.Equal(1.0, total, 9);
    }

    [Fact]
    public void SingleDrawFrequenciesMatchTheLogUniformDistribution()
    {
        const int v = 50, draws = 200_000;
        var sampler = new LogUniformSampler(v, 10, 7);
        var counts = new int[v];
        ulong state = sampler.StateFor(0);
        for (int i = 0; i < draws; i++) counts[sampler.Draw(ref state)]++;
        double chiSquare = 0;
        for (int k = 0; k < v; k++)
        {
            double expected = draws * sampler.Probability(k);
            chiSquare += (counts[k] - expected) * (counts[k] - expected) / expected;
        }
        // 49 degrees of freedom: P(chi-square > 85.35) = 0.001.
        Assert.True(chiSquare < 85.35, $"chi-square {chiSquare:F1} over 49 degrees of freedom");
    }

    [Fact]
    public void UniqueSamplesAreDistinctReproducibleAndTheirInclusionRateMatchesTheExpectedCount()
    {
        const int v = 200, s = 40, calls = 4000;
        var sampler = new LogUniformSampler(v, s, 11);
        var ids = new int[s];
        var included = new double[v];
        var expected = new double[v];
        for (int call = 0; call < calls; call++)
        {
            int tries = sampler.DrawUnique(call, ids);
            Assert.True(tries >= s);
            Assert.Equal(s, ids.Distinct().Count());
            Assert.All(ids, k => Assert.InRange(k, 0, v - 1));
            foreach (int k in ids) included[k]++;
            for (int k = 0; k < v; k++) expected[k] += sampler.ExpectedCount(k, tries);
        }
        for (int k = 0; k < v; k += 7)
        {
            double rate = included[k] / calls, predicted = expected[k] / calls;
            Assert.True(Math.Abs(rate - predicted) < 0.03 + 0.05 * predicted, $"id {k}: included in {rate:F3} of samples, expected count {predicted:F3}");
        }

        var again = new int[s];
        var first = new int[s];
        int t1 = sampler.DrawUnique(17, first);
        int t2 = new LogUniformSampler(v, s, 11).DrawUnique(17, again);
        Assert.Equal(t1, t2);
        Assert.Equal(first, again);
        new LogUniformSampler(v, s, 12).DrawUnique(17, again);
        Assert.NotEqual(first, again);
    }

    [Fact]
    public void ExpectedCountFollowsTensorFlow()
    {
        Assert.Equal(0.01 * 8, LogUniformSampler.ExpectedCount(0.01, 8, 8), 12);
        Assert.Equal(1 - Math.Pow(0.99, 20), LogUniformSampler.ExpectedCount(0.01, 8, 20), 12);
    }

    [Theory]
    [InlineData(100, 100)]
    [InlineData(100, 150)]
    [InlineData(100, 0)]
    public void SampleCountMustBeBelowTheVocabulary(int v, int s)
    {
        var e = Assert.Throws<ArgumentException>(() => new LogUniformSampler(v, s, 1));
        Assert.Contains($"{s} negative samples per batch for a vocabulary of {v} words", e.Message);
    }
}
