namespace IlgpuElmo.Probing;

/// <summary>
/// Which test tokens are hard for word identity: a word never seen in the probe's training tokens
/// (unseen), or a word seen there with more than one tag (ambiguous). Exact word forms, as the
/// most-frequent-tag baseline looks them up.
/// </summary>
public sealed class TestTokenGroups
{
    public TestTokenGroups(MostFrequentTagBaseline training, IEnumerable<Data.TaggedSentence> test)
    {
        var words = test.SelectMany(s => s.Words).ToArray();
        Unseen = words.Select(w => !training.Seen(w)).ToArray();
        Ambiguous = words.Select(training.Ambiguous).ToArray();
    }

    public bool[] Unseen { get; }
    public bool[] Ambiguous { get; }
    public int Count => Unseen.Length;
    public int UnseenCount => Unseen.Count(x => x);
    public int AmbiguousCount => Ambiguous.Count(x => x);
}

/// <summary>Tagging accuracy on all test tokens, on the unseen words' tokens and on the ambiguous words' tokens (NaN: no such token).</summary>
public sealed record TaggingAccuracy(double All, double Unseen, double Ambiguous)
{
    /// <summary>Accuracy per group from each test token's right/wrong, in the order of <paramref name="groups"/>.</summary>
    public static TaggingAccuracy From(IReadOnlyList<bool> correct, TestTokenGroups groups)
    {
        if (correct.Count != groups.Count)
            throw new ArgumentException($"{correct.Count} predictions for {groups.Count} test tokens.", nameof(correct));
        double Mean(Func<int, bool> member)
        {
            int right = 0, total = 0;
            for (int i = 0; i < correct.Count; i++)
                if (member(i))
                {
                    total++;
                    if (correct[i]) right++;
                }
            return total == 0 ? double.NaN : (double)right / total;
        }
        return new TaggingAccuracy(Mean(_ => true), Mean(i => groups.Unseen[i]), Mean(i => groups.Ambiguous[i]));
    }
}
