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
    public void SeenAndAmbiguousWordsAndTheirAccuracyByGroup()
    {
        var train = new[] { S("the/at dogs/nns run/vb"), S("the/at run/nn") };
        var baseline = new MostFrequentTagBaseline(train);
        Assert.True(baseline.Seen("dogs"));
        Assert.False(baseline.Seen("Dogs"));
        Assert.True(baseline.Ambiguous("run"));
        Assert.False(baseline.Ambiguous("the"));
        // Test: the (seen, right) run/nn (ambiguous, wrong) cats (unseen -> at, wrong) run/vb (ambiguous, right) fly (unseen -> at, wrong).
        var test = new[] { S("the/at run/nn cats/nns run/vb fly/vb") };
        var groups = new TestTokenGroups(baseline, test);
        Assert.Equal([false, false, true, false, true], groups.Unseen);
        Assert.Equal([false, true, false, true, false], groups.Ambiguous);
        var accuracy = TaggingAccuracy.From(baseline.Correct(test), groups);
        Assert.Equal(new TaggingAccuracy(0.4, 0, 0.5), accuracy);
        Assert.Equal(0.4, baseline.Accuracy(test));
    }

    [Fact]
    public void TiesGoToTheTagSeenFirst()
    {
        var baseline = new MostFrequentTagBaseline([S("x/b x/a"), S("y/c")]);
        Assert.Equal("b", baseline.Tag("x"));
    }
}
