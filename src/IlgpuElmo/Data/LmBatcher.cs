using System.Text.Json.Serialization;

namespace IlgpuElmo.Data;

/// <summary>
/// Batches as bilm-tf makes them: <c>batchSize</c> parallel streams of continuous text, each sentence
/// wrapped in &lt;S&gt; ... &lt;/S&gt; (reversed for the backward direction), cut into windows of
/// <c>steps</c>; a row's stream carries on in the next window, so LSTM states carry over too.
/// Files are read one at a time (the corpus need not fit in memory), in a shuffled order each epoch
/// with their sentences shuffled, all from the seed; <see cref="State"/> and <see cref="Restore"/> make
/// a resumed run read exactly what an uninterrupted one would. With <c>training: false</c> it makes one
/// pass in file order and pads the last windows (target -1), then <see cref="Next"/> returns null.
/// </summary>
public sealed class LmBatcher
{
    readonly IReadOnlyList<string> files;
    readonly Vocabulary vocab;
    readonly int steps, batchSize;
    readonly bool training;
    readonly SentenceReader reader;
    readonly RowStream[] rows;
    int epoch, fileIndex, sentenceIndex;
    List<string[]>? fileSentences;
    int[]? fileOrder;
    bool exhausted;
    int filesWithoutSentence;

    public LmBatcher(IReadOnlyList<string> files, Vocabulary vocab, int batchSize, int steps, bool training, ulong seed, SentenceReader? reader = null)
    {
        if (files.Count == 0) throw new InputException("The corpus has no files.");
        if (batchSize < 1) throw new InputException($"batch_size must be at least 1 (got {batchSize}).");
        if (steps < 1) throw new InputException($"unroll_steps must be at least 1 (got {steps}).");
        this.files = files;
        this.vocab = vocab;
        this.batchSize = batchSize;
        this.steps = steps;
        this.training = training;
        Seed = seed;
        this.reader = reader ?? new SentenceReader();
        rows = Enumerable.Range(0, batchSize).Select(_ => new RowStream()).ToArray();
    }

    public ulong Seed { get; }
    public int Epoch => epoch;
    public SentenceReader Reader => reader;

    /// <summary>
    /// Number of prediction targets one pass over the files makes per direction (words + one per sentence);
    /// <paramref name="cancel"/> stops the count between sentences.
    /// </summary>
    public static long CountTargets(IEnumerable<string> files, SentenceReader? reader = null, CancellationToken cancel = default)
    {
        reader ??= new SentenceReader();
        long targets = 0;
        foreach (var file in files)
            foreach (var sentence in reader.Read(file))
            {
                cancel.ThrowIfCancellationRequested();
                targets += sentence.Length + 1;
            }
        return targets;
    }

    /// <summary>The next window, or null once a non-training pass is done.</summary>
    public LmBatch? Next()
    {
        var batch = new LmBatch(steps, batchSize);
        bool any = false;
        for (int b = 0; b < batchSize; b++)
        {
            var row = rows[b];
            int pos = 0;
            while (pos < steps)
            {
                if (row.Forward.Count <= 1)
                {
                    var sentence = NextSentence();
                    if (sentence is null) break;
                    row.Set(sentence);
                }
                int howMany = Math.Min(row.Forward.Count - 1, steps - pos);
                for (int k = 0; k < howMany; k++)
                {
                    int at = (pos + k) * batchSize + b;
                    batch.ForwardTokens[at] = row.Forward[k];
                    batch.ForwardInputs[at] = vocab.IdOf(row.Forward[k]);
                    batch.ForwardTargets[at] = vocab.IdOf(row.Forward[k + 1]);
                    batch.BackwardTokens[at] = row.Backward[k];
                    batch.BackwardInputs[at] = vocab.IdOf(row.Backward[k]);
                    batch.BackwardTargets[at] = vocab.IdOf(row.Backward[k + 1]);
                }
                row.Forward.RemoveRange(0, howMany);
                row.Backward.RemoveRange(0, howMany);
                pos += howMany;
            }
            batch.Lengths[b] = pos;
            any |= pos > 0;
            for (int t = pos; t < steps; t++)
            {
                int at = t * batchSize + b;
                batch.ForwardTokens[at] = batch.BackwardTokens[at] = Vocabulary.Eos;
                batch.ForwardInputs[at] = batch.BackwardInputs[at] = vocab.EosId;
                batch.ForwardTargets[at] = batch.BackwardTargets[at] = -1;
            }
        }
        return any ? batch : null;
    }

    string[]? NextSentence()
    {
        while (true)
        {
            if (exhausted) return null;
            if (fileSentences is not null && sentenceIndex < fileSentences.Count)
            {
                filesWithoutSentence = 0;
                return fileSentences[sentenceIndex++];
            }
            // A training pass wraps around forever: a full round of files without a sentence would spin.
            if (++filesWithoutSentence > files.Count + 1)
                throw new InputException($"The corpus ({files.Count} file(s), e.g. {files[0]}) has no sentence to train on: every line is blank or not UTF-8.");
            if (fileSentences is not null) { fileIndex++; sentenceIndex = 0; fileSentences = null; }
            if (fileIndex >= files.Count)
            {
                if (!training) { exhausted = true; return null; }
                epoch++;
                fileIndex = 0;
                fileOrder = null;
            }
            OpenFile();
        }
    }

    void OpenFile()
    {
        fileOrder ??= Order(files.Count, epoch, -1);
        fileSentences = reader.Read(files[fileOrder[fileIndex]]).ToList();
        if (training)
        {
            var order = Order(fileSentences.Count, epoch, fileIndex);
            fileSentences = order.Select(i => fileSentences[i]).ToList();
        }
    }

    /// <summary>A permutation of [0, n) from (seed, epoch, which): identity when not training.</summary>
    int[] Order(int n, int forEpoch, int which)
    {
        var order = Enumerable.Range(0, n).ToArray();
        if (!training) return order;
        var random = new Random((int)(Kernels.CounterRandom.Hash(Seed, (ulong)forEpoch * 1_000_003UL + (ulong)(which + 1)) & 0x7fffffff));
        random.Shuffle(order);
        return order;
    }

    /// <summary>Where the batcher is: enough to continue exactly here after a restart.</summary>
    public BatcherState State() => new(epoch, fileIndex, sentenceIndex, fileSentences is not null, exhausted,
        rows.Select(r => r.Forward.ToArray()).ToArray(), rows.Select(r => r.Backward.ToArray()).ToArray());

    public void Restore(BatcherState state)
    {
        if (state.ForwardRows.Length != batchSize || state.BackwardRows.Length != batchSize)
            throw new InputException($"The checkpoint's data position has {state.ForwardRows.Length} streams but batch_size is {batchSize}; resume with the same batch_size.");
        if (state.FileIndex > files.Count)
            throw new InputException($"The checkpoint's data position is file {state.FileIndex} but the corpus now has {files.Count} files; resume with the same corpus.");
        epoch = state.Epoch;
        fileIndex = state.FileIndex;
        sentenceIndex = state.SentenceIndex;
        exhausted = state.Exhausted;
        fileOrder = null;
        fileSentences = null;
        if (state.FileOpen && fileIndex < files.Count) OpenFile();
        for (int b = 0; b < batchSize; b++)
        {
            rows[b].Forward.Clear();
            rows[b].Forward.AddRange(state.ForwardRows[b]);
            rows[b].Backward.Clear();
            rows[b].Backward.AddRange(state.BackwardRows[b]);
        }
    }

    sealed class RowStream
    {
        public readonly List<string> Forward = new(), Backward = new();

        public void Set(string[] words)
        {
            Forward.Clear();
            Forward.Add(Vocabulary.Bos);
            Forward.AddRange(words);
            Forward.Add(Vocabulary.Eos);
            Backward.Clear();
            Backward.Add(Vocabulary.Eos);
            for (int i = words.Length - 1; i >= 0; i--) Backward.Add(words[i]);
            Backward.Add(Vocabulary.Bos);
        }
    }
}

/// <summary>A batcher's position: epoch, file and sentence, and what each stream has left (tokens).</summary>
public sealed record BatcherState(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("file_index")] int FileIndex,
    [property: JsonPropertyName("sentence_index")] int SentenceIndex,
    [property: JsonPropertyName("file_open")] bool FileOpen,
    [property: JsonPropertyName("exhausted")] bool Exhausted,
    [property: JsonPropertyName("forward_rows")] string[][] ForwardRows,
    [property: JsonPropertyName("backward_rows")] string[][] BackwardRows);
