using IlgpuElmo.Data;

namespace IlgpuElmo.Training;

/// <summary>
/// The unigram language model of the same vocabulary and split, to judge a biLM's perplexity against:
/// p(w) = (count(w) + 1) / (N + V) over the training targets (every word, mapped to &lt;UNK&gt; when out
/// of vocabulary, plus one &lt;/S&gt; per sentence), evaluated on the held-out targets the biLM predicts.
/// Forward and backward perplexities are equal for it (the same multiset of targets, with &lt;S&gt; in
/// place of &lt;/S&gt;).
/// </summary>
public static class UnigramBaseline
{
    public static double Perplexity(Vocabulary vocab, IEnumerable<string> trainFiles, IEnumerable<string> heldOutFiles)
    {
        var counts = new long[vocab.Count];
        long total = 0;
        var reader = new SentenceReader();
        foreach (var file in trainFiles)
            foreach (var sentence in reader.Read(file))
            {
                foreach (var word in sentence) counts[vocab.IdOf(word)]++;
                counts[vocab.EosId]++;
                total += sentence.Length + 1;
            }
        double logTotal = Math.Log(total + vocab.Count);
        double nll = 0;
        long tokens = 0;
        foreach (var file in heldOutFiles)
            foreach (var sentence in reader.Read(file))
            {
                foreach (var word in sentence) nll += logTotal - Math.Log(counts[vocab.IdOf(word)] + 1);
                nll += logTotal - Math.Log(counts[vocab.EosId] + 1);
                tokens += sentence.Length + 1;
            }
        if (tokens == 0) throw new InputException("The held-out corpus has no tokens.");
        return Math.Exp(nll / tokens);
    }
}
