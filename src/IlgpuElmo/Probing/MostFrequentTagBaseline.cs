using IlgpuElmo.Data;

namespace IlgpuElmo.Probing;

/// <summary>
/// The probe's baseline: tag each word with its most frequent tag in the training sentences (ties: the
/// tag seen first); a word never seen in training gets the most frequent tag overall.
/// </summary>
public sealed class MostFrequentTagBaseline
{
    readonly Dictionary<string, string> best;
    readonly HashSet<string> ambiguous;
    readonly string overall;

    public MostFrequentTagBaseline(IEnumerable<TaggedSentence> training)
    {
        var counts = new Dictionary<string, Dictionary<string, (int Count, int First)>>(StringComparer.Ordinal);
        var totals = new Dictionary<string, (int Count, int First)>(StringComparer.Ordinal);
        int order = 0;
        foreach (var sentence in training)
            for (int i = 0; i < sentence.Words.Length; i++, order++)
            {
                string word = sentence.Words[i], tag = sentence.Tags[i];
                if (!counts.TryGetValue(word, out var tags)) counts[word] = tags = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
                tags[tag] = tags.TryGetValue(tag, out var c) ? (c.Count + 1, c.First) : (1, order);
                totals[tag] = totals.TryGetValue(tag, out var t) ? (t.Count + 1, t.First) : (1, order);
            }
        if (totals.Count == 0) throw new InputException("The probe's training sentences are empty.");
        static string Best(Dictionary<string, (int Count, int First)> d) =>
            d.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Value.First).First().Key;
        best = counts.ToDictionary(kv => kv.Key, kv => Best(kv.Value), StringComparer.Ordinal);
        ambiguous = counts.Where(kv => kv.Value.Count > 1).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        overall = Best(totals);
    }

    public string Tag(string word) => best.TryGetValue(word, out var tag) ? tag : overall;

    /// <summary>True when the word occurs in the training sentences.</summary>
    public bool Seen(string word) => best.ContainsKey(word);

    /// <summary>True when the word occurs in the training sentences with more than one tag.</summary>
    public bool Ambiguous(string word) => ambiguous.Contains(word);

    /// <summary>For each token of the sentences in order: whether the predicted tag equals the gold tag.</summary>
    public bool[] Correct(IEnumerable<TaggedSentence> sentences) =>
        sentences.SelectMany(s => s.Words.Select((w, i) => Tag(w) == s.Tags[i])).ToArray();

    /// <summary>Fraction of tokens whose predicted tag equals the gold tag.</summary>
    public double Accuracy(IEnumerable<TaggedSentence> sentences)
    {
        var correct = Correct(sentences);
        return correct.Length == 0 ? 0 : (double)correct.Count(c => c) / correct.Length;
    }
}
