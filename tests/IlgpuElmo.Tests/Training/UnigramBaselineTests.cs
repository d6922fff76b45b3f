using IlgpuElmo.Data;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

public class UnigramBaselineTests
{
    [Fact]
    public void MatchesAHandComputation()
    {
        using var temp = new TempDirectory();
        string train = temp.File("train.txt", "a a b\n");
        string test = temp.File("test.txt", "a c\n");
        var vocab = new Vocabulary(["<S>", "</S>", "<UNK>", "a", "b"]);
        // Train targets: a a b </S> (N = 4, V = 5): p(a) = 3/9, p(UNK) = 1/9, p(</S>) = 2/9.
        double expected = Math.Exp(-(Math.Log(3.0 / 9) + Math.Log(1.0 / 9) + Math.Log(2.0 / 9)) / 3);
        Assert.Equal(expected, UnigramBaseline.Perplexity(vocab, [train], [test]), 10);
    }
}
