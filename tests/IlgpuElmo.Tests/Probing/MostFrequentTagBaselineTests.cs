using IlgpuElmo.Data;
using IlgpuElmo.Probing;

namespace IlgpuElmo.Tests.Probing;

public class MostFrequentTagBaselineTests
{
    static TaggedSentence S(string text) =>
        new(text.Split(' ').Select(t => t.Split('/')[0]).ToArray(), text.Split(' ').Select(t => t.Split('/')[1]).ToArray());

    [Fact]
    public void AccuracyComputedByHandOnASmallFile()
    {
        // "run": vb twice, nn once -> vb. "the": at. "dogs": nns. Overall most frequent tag: at (4) vs vb (2)...
        var train = new[] { S("the/at dogs/nns run/vb"), S("the/at run/nn"), S("the/at cats/nns run/vb"), S("the/at end/nn") };
        var baseline = new MostFrequentTagBaseline(train);
        Assert.Equal("vb", baseline.Tag("run"));
        Assert.Equal("at", baseline.Tag("unseen"));
        // Test: the/at (right) run/nn (wrong: vb) birds/nns (unseen -> at: wrong) end/nn (right) => 2 / 4.
        Assert.Equal(0.5, baseline.Accuracy([S("the/at run/nn birds/nns end/nn")]));
    }

    [Fact]
    public void TiesGoToTheTagSeenFirst()
    {
        var baseline = new MostFrequentTagBaseline([S("x/b x/a"), S("y/c")]);
        Assert.Equal("b", baseline.Tag("x"));
    }
}
