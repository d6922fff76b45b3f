using IlgpuElmo.Data;

namespace IlgpuElmo.Tests.Data;

public class LmBatcherTests
{
    static Vocabulary Vocab(params string[] words) => new(["<S>", "</S>", "<UNK>", .. words]);

    [Fact]
    public void WindowsFollowBilmTfStreamsInBothDirections()
    {
        using var temp = new TempDirectory();
        string file = temp.File("a.txt", "a b c\nd e\n");
        var vocab = Vocab("a", "b", "c", "d", "e");
        var batcher = new LmBatcher([file], vocab, batchSize: 1, steps: 4, training: false, seed: 1);
        var first = batcher.Next()!;
        // Forward stream: <S> a b c </S> <S> d e </S>; inputs drop each sentence's last token.
        Assert.Equal(["<S>", "a", "b", "c"], first.ForwardTokens);
        Assert.Equal(new[] { "a", "b", "c", "</S>" }.Select(vocab.IdOf), first.ForwardTargets);
        // Backward stream: </S> c b a <S> </S> e d <S>.
        Assert.Equal(["</S>", "c", "b", "a"], first.BackwardTokens);
        Assert.Equal(new[] { "c", "b", "a", "<S>" }.Select(vocab.IdOf), first.BackwardTargets);
        var second = batcher.Next()!;
        Assert.Equal(["<S>", "d", "e", "</S>"], second.ForwardTokens);
        Assert.Equal(new[] { vocab.IdOf("d"), vocab.IdOf("e"), vocab.EosId, -1 }, second.ForwardTargets);
        Assert.Equal(new[] { vocab.IdOf("e"), vocab.IdOf("d"), vocab.BosId, -1 }, second.BackwardTargets);
        Assert.Equal([3], second.Lengths);
        Assert.Null(batcher.Next());
    }

    [Fact]
    public void RowsAreParallelStreamsAndLayoutIsTimeMajor()
    {
        using var temp = new TempDirectory();
        string file = temp.File("a.txt", "a\nb\nc\n");
        var vocab = Vocab("a", "b", "c");
        var batch = new LmBatcher([file], vocab, batchSize: 2, steps: 2, training: false, seed: 1).Next()!;
        // Row 0 reads sentence 1 (<S> a), row 1 sentence 2 (<S> b); position (t, b) is t * 2 + b.
        Assert.Equal(["<S>", "<S>", "a", "b"], batch.ForwardTokens);
        Assert.Equal(2, batch.TargetCount / 2);
    }

    [Fact]
    public void ResumingFromAStateReadsExactlyWhatAnUninterruptedRunReads()
    {
        using var temp = new TempDirectory();
        var files = Enumerable.Range(0, 4).Select(i => temp.File($"f{i}.txt",
            string.Join("\n", Enumerable.Range(0, 7).Select(j => $"w{i} x{j} y{(i * j) % 5}")) + "\n")).ToList();
        var vocab = Vocab(Enumerable.Range(0, 7).SelectMany(j => new[] { $"w{j}", $"x{j}", $"y{j}" }).ToArray());
        var whole = new LmBatcher(files, vocab, 3, 5, training: true, seed: 42);
        var reference = Enumerable.Range(0, 30).Select(_ => whole.Next()!).ToList();
        var first = new LmBatcher(files, vocab, 3, 5, training: true, seed: 42);
        for (int i = 0; i < 13; i++) Assert.Equal(reference[i].ForwardTokens, first.Next()!.ForwardTokens);
        string json = System.Text.Json.JsonSerializer.Serialize(first.State());
        var resumed = new LmBatcher(files, vocab, 3, 5, training: true, seed: 42);
        resumed.Restore(System.Text.Json.JsonSerializer.Deserialize<BatcherState>(json)!);
        for (int i = 13; i < 30; i++)
        {
            var batch = resumed.Next()!;
            Assert.Equal(reference[i].ForwardTokens, batch.ForwardTokens);
            Assert.Equal(reference[i].BackwardTargets, batch.BackwardTargets);
        }
        Assert.True(resumed.Epoch >= 1, "30 windows of 15 tokens pass the 4 x 7 x 4-token corpus more than once");
    }

    [Fact]
    public void CountsTargetsAsWordsPlusOnePerSentence()
    {
        using var temp = new TempDirectory();
        Assert.Equal(3 + 1 + 2 + 1, LmBatcher.CountTargets([temp.File("a.txt", "a b c\n\nd e\n")]));
    }

    [Fact]
    public void ATrainingPassOverACorpusWithoutSentencesIsAnErrorNotASpin()
    {
        using var temp = new TempDirectory();
        string blank = temp.File("blank.txt", "  \n\t\n"), invalid = Path.Combine(temp.Path, "invalid.txt");
        File.WriteAllBytes(invalid, [0xC3, 0x28, (byte)'\n']);
        var batcher = new LmBatcher([blank, invalid], Vocab("a"), batchSize: 2, steps: 3, training: true, seed: 1);
        Assert.Contains("has no sentence to train on", Assert.Throws<InputException>(() => batcher.Next()).Message);
    }
}

