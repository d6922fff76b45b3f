namespace IlgpuElmo.Softmax;

/// <summary>
/// TensorFlow's log-uniform (Zipfian) candidate sampler, as bilm-tf's sampled softmax uses it: word ids
/// are sorted by frequency and id k is drawn with P(k) = (log(k+2) - log(k+1)) / log(V+1), i.e.
/// k = floor(exp(u log(V+1))) - 1 for u uniform in [0, 1). <see cref="DrawUnique"/> draws until it has S
/// distinct ids and reports how many draws (tries) that took; the expected count of id k in such a
/// sample is then -expm1(tries * log1p(-P(k))) (TensorFlow's formula; p * S when there were no repeats).
/// </summary>
/// <remarks>
/// Runs on the host: unique sampling is a sequential rejection loop (for S = 8192 of V = 793,471 about
/// 16,000 draws), which the sampled head runs for the NEXT call on a worker thread while the current one
/// runs, so it costs neither device nor host-thread time.
/// Draws are a pure function of (seed, call index) through a SplitMix64 stream, so a run is reproducible
/// and independent of thread timing.
/// </remarks>
public sealed class LogUniformSampler
{
    readonly double logRange;
    readonly bool[] taken;

    public LogUniformSampler(int vocabularySize, int samples, ulong seed)
    {
        if (vocabularySize < 2) throw new ArgumentException($"Log-uniform sampler: the vocabulary needs at least 2 words, got {vocabularySize}.");
        if (samples < 1 || samples >= vocabularySize)
            throw new ArgumentException(
                $"Sampled softmax: {samples} negative samples per batch for a vocabulary of {vocabularySize} words; " +
                $"it must be between 1 and {vocabularySize - 1} (use the full softmax when every word should be scored).");
        VocabularySize = vocabularySize;
        Samples = samples;
        Seed = seed;
        logRange = Math.Log(vocabularySize + 1.0);
        taken = new bool[vocabularySize];
    }

    public int VocabularySize { get; }
    public int Samples { get; }
    public ulong Seed { get; }

    /// <summary>P(k), the probability that one draw returns id k.</summary>
    public double Probability(int k) => Math.Log((k + 2.0) / (k + 1.0)) / logRange;

    /// <summary>Expected number of times id k appears in a unique sample of <see cref="Samples"/> ids that took <paramref name="tries"/> draws.</summary>
    public double ExpectedCount(int k, int tries) => ExpectedCount(Probability(k), Samples, tries);

    /// <summary>TensorFlow's expected count for unique sampling: p * S without repeats, else 1 - (1 - p)^tries.</summary>
    /// <remarks>In float64 even the rarest id's log(1 - p) (p about 1e-7) keeps 9 significant digits.</remarks>
    public static double ExpectedCount(double p, int samples, int tries) =>
        tries == samples ? p * samples : -double.ExpM1(tries * double.LogP1(-p));

    /// <summary>One draw from P using the generator state (advanced).</summary>
    public int Draw(ref ulong state)
    {
        double u = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
        long value = (long)Math.Exp(u * logRange) - 1;
        return (int)(value % VocabularySize);
    }

    /// <summary>The generator state for call <paramref name="call"/> of this sampler.</summary>
    public ulong StateFor(long call)
    {
        ulong state = Seed ^ 0x6A09E667F3BCC909UL;
        state = Next(ref state) ^ (ulong)call;
        Next(ref state);
        return state;
    }

    /// <summary>
    /// The sample for call <paramref name="call"/>: <see cref="Samples"/> distinct ids in draw order into
    /// <paramref name="ids"/>, returning the number of draws it took.
    /// </summary>
    public int DrawUnique(long call, Span<int> ids)
    {
        if (ids.Length != Samples) throw new ArgumentException($"DrawUnique: {ids.Length} slots for {Samples} samples.");
        ulong state = StateFor(call);
        int count = 0, tries = 0;
        // The scratch marks are shared: one draw at a time (the sampled head draws on a worker thread).
        lock (taken)
        {
            while (count < Samples)
            {
                int k = Draw(ref state);
                tries++;
                if (taken[k]) continue;
                taken[k] = true;
                ids[count++] = k;
            }
            foreach (int k in ids) taken[k] = false;
        }
        return tries;
    }

    /// <summary>SplitMix64: a full-period 64-bit generator with a strong output mix.</summary>
    static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
