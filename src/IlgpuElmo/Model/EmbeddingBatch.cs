namespace IlgpuElmo.Model;

/// <summary>
/// One batch's embeddings, reused from batch to batch: sentence i's vectors are
/// [LayerCount, tokens_i, Width] at <see cref="Sentence"/>(i), all in one host array sized for as many rows as
/// the batch has, each as long as its longest sentence: it grows only for a batch with more rows or longer
/// sentences than any before, so embedding batch after batch maps no new memory.
/// </summary>
public sealed class EmbeddingBatch
{
    float[] values = [];
    int[] starts = [0];

    /// <summary>Sentences in the last batch written.</summary>
    public int Count { get; private set; }

    /// <summary>How many times the buffers grew (the first batch's sizing included): stays put once they fit the largest batch.</summary>
    public int Growths { get; private set; }

    /// <summary>Sentence <paramref name="i"/>'s vectors, [LayerCount, tokens, Width], valid until the next batch is written.</summary>
    public ReadOnlySpan<float> Sentence(int i)
    {
        if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(i), i, $"The batch has {Count} sentences.");
        return values.AsSpan(starts[i], starts[i + 1] - starts[i]);
    }

    /// <summary>Lays out a batch of sentences of these token counts and returns the span to fill; sentence i starts at <see cref="Start"/>(i).</summary>
    internal Span<float> Reset(IReadOnlyList<string[]> sentences, int valuesPerToken)
    {
        int n = sentences.Count;
        if (starts.Length < n + 1)
        {
            starts = new int[n + 1];
            Growths++;
        }
        long total = 0;
        int longest = 0;
        for (int i = 0; i < n; i++)
        {
            starts[i] = checked((int)total);
            total += (long)sentences[i].Length * valuesPerToken;
            longest = Math.Max(longest, sentences[i].Length);
        }
        starts[n] = checked((int)total);
        if (values.Length < total)
        {
            // Room for every row at the longest sentence's length: any later batch of no more rows and no longer sentences fits.
            values = GC.AllocateUninitializedArray<float>(checked((int)((long)n * longest * valuesPerToken)));
            Growths++;
        }
        Count = n;
        return values.AsSpan(0, (int)total);
    }

    internal int Start(int i) => starts[i];
}
