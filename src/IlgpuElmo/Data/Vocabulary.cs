namespace IlgpuElmo.Data;

/// <summary>
/// The language model's word vocabulary, in bilm-tf's format: one word per line, sorted by frequency,
/// with &lt;S&gt;, &lt;/S&gt; and &lt;UNK&gt; first. Ids are line numbers; unknown words map to &lt;UNK&gt;.
/// </summary>
public sealed class Vocabulary
{
    public const string Bos = "<S>", Eos = "</S>", Unk = "<UNK>";

    /// <summary>True for &lt;S&gt;, &lt;/S&gt; and &lt;UNK&gt;.</summary>
    public static bool IsSpecial(string word) => word is Bos or Eos or Unk;

    readonly Dictionary<string, int> ids;

    public Vocabulary(IReadOnlyList<string> words, string source = "vocabulary")
    {
        Words = words;
        ids = new Dictionary<string, int>(words.Count, StringComparer.Ordinal);
        for (int i = 0; i < words.Count; i++)
            if (!ids.TryAdd(words[i], i))
                throw new InputException($"{source} line {i + 1}: '{words[i]}' appears twice (first on line {ids[words[i]] + 1}).");
        foreach (var special in new[] { Bos, Eos, Unk })
            if (!ids.ContainsKey(special))
                throw new InputException($"{source}: the special token {special} is missing; a vocabulary lists <S>, </S> and <UNK> (made by `elmo vocab`).");
        BosId = ids[Bos];
        EosId = ids[Eos];
        UnkId = ids[Unk];
    }

    public IReadOnlyList<string> Words { get; }
    public int Count => Words.Count;
    public int BosId { get; }
    public int EosId { get; }
    public int UnkId { get; }

    public int IdOf(string word) => ids.TryGetValue(word, out int id) ? id : UnkId;
    public bool Contains(string word) => ids.ContainsKey(word);

    public static Vocabulary Load(string path)
    {
        InputFiles.RefuseFolder(path, "Vocabulary file", "vocab.txt");
        if (!File.Exists(path)) throw new InputException($"Vocabulary file '{path}' does not exist (make one with `elmo vocab`).");
        var words = new List<string>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            string word = line.Trim();
            if (word.Length == 0) continue;
            if (word.Any(char.IsWhiteSpace))
                throw new InputException($"{path} line {lineNumber}: '{word}' contains whitespace; a vocabulary has one token per line.");
            words.Add(word);
        }
        return new Vocabulary(words, path);
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, string.Join('\n', Words) + "\n");

    /// <summary>
    /// Counts tokens over the files and keeps words seen at least <paramref name="minCount"/> times,
    /// most frequent first (ties by ordinal order, so the result is reproducible), specials first.
    /// </summary>
    public static (Vocabulary vocab, VocabularyStats stats) Build(IEnumerable<string> files, int minCount, SentenceReader reader, int? maxSize = null)
    {
        if (minCount < 1) throw new InputException($"--min-count must be at least 1 (got {minCount}).");
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long tokens = 0, sentences = 0;
        foreach (var file in files)
            foreach (var sentence in reader.Read(file))
            {
                sentences++;
                foreach (var word in sentence)
                {
                    tokens++;
                    counts[word] = counts.GetValueOrDefault(word) + 1;
                }
            }
        if (tokens == 0) throw new InputException("The corpus has no tokens (every file is empty or unreadable).");
        var kept = counts.Where(kv => kv.Value >= minCount && kv.Key is not (Bos or Eos or Unk))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => kv.Key);
        if (maxSize is int max) kept = kept.Take(Math.Max(0, max - 3));
        var words = new List<string> { Bos, Eos, Unk };
        words.AddRange(kept);
        return (new Vocabulary(words), new VocabularyStats(tokens, sentences, counts.Count));
    }
}

/// <summary>What a vocabulary build saw: tokens, sentences and distinct words in the corpus.</summary>
public sealed record VocabularyStats(long Tokens, long Sentences, int DistinctWords);
