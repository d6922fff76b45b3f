using System.Text;

namespace IlgpuElmo.Encoders;

/// <summary>
/// Maps a token to the 50 character ids the char CNN reads, exactly as allennlp's ELMoCharacterMapper
/// and bilm-tf's Batcher do (published weights depend on these numbers): the token's UTF-8 bytes
/// (0-255; characters that cannot be encoded are dropped, like Python's encode('utf-8', 'ignore')),
/// cut to 48 bytes, after a beginning-of-word mark and before an end-of-word mark, then padding;
/// the sentence boundaries &lt;S&gt; and &lt;/S&gt; are a word of one special character. Every id is
/// then shifted by one so that 0 marks a padding token (a position past a sentence's end): 262
/// embedding rows, row 0 all zeros.
/// </summary>
public sealed class CharacterMapper
{
    public const int MaxCharacters = 50;
    /// <summary>Unshifted special characters (bilm-tf's numbering; add one for the ids written).</summary>
    public const int BeginningOfSentence = 256, EndOfSentence = 257, BeginningOfWord = 258, EndOfWord = 259, Padding = 260;
    /// <summary>Rows of the character embedding table: 261 characters plus row 0 for padding tokens.</summary>
    public const int TableRows = 262;
    public const string BosToken = "<S>", EosToken = "</S>";

    // Python's word.encode('utf-8', 'ignore'): unpaired surrogates are dropped, not replaced.
    static readonly Encoding Utf8DroppingInvalid =
        Encoding.GetEncoding("utf-8", new EncoderReplacementFallback(""), DecoderFallback.ReplacementFallback);

    readonly IReadOnlyDictionary<string, int> tokensToAdd;

    /// <param name="tokensToAdd">Optional extra tokens, each written as one (unshifted) character id, like allennlp's tokens_to_add.</param>
    public CharacterMapper(IReadOnlyDictionary<string, int>? tokensToAdd = null)
    {
        this.tokensToAdd = tokensToAdd ?? new Dictionary<string, int>();
        foreach (var (token, id) in this.tokensToAdd)
            if (id < 0 || id >= Padding + 1)
                throw new InputException($"Extra token '{token}' has character id {id}; ids must be in 0..{Padding} (pre-trained models: pick unused ids, e.g. 1-32).");
    }

    /// <summary>The 50 shifted ids of <paramref name="word"/>.</summary>
    public int[] ToIds(string word)
    {
        var ids = new int[MaxCharacters];
        Write(word, ids);
        return ids;
    }

    /// <summary>Writes the 50 shifted ids of <paramref name="word"/>, or 50 zeros for a padding token (null).</summary>
    public void Write(string? word, Span<int> destination)
    {
        if (destination.Length != MaxCharacters)
            throw new ArgumentException($"A token's character ids take {MaxCharacters} entries, not {destination.Length}.");
        if (word is null)
        {
            destination.Clear();
            return;
        }
        destination.Fill(Padding);
        destination[0] = BeginningOfWord;
        if (tokensToAdd.TryGetValue(word, out int special)) WriteSingle(destination, special);
        else if (word == BosToken) WriteSingle(destination, BeginningOfSentence);
        else if (word == EosToken) WriteSingle(destination, EndOfSentence);
        else
        {
            // Short words (almost all) encode on the stack; long ones allocate.
            Span<byte> buffer = stackalloc byte[Utf8DroppingInvalid.GetMaxByteCount(MaxCharacters)];
            ReadOnlySpan<byte> encoded = word.Length <= MaxCharacters
                ? buffer[..Utf8DroppingInvalid.GetBytes(word, buffer)]
                : Utf8DroppingInvalid.GetBytes(word);
            int kept = Math.Min(encoded.Length, MaxCharacters - 2);
            for (int k = 0; k < kept; k++) destination[k + 1] = encoded[k];
            destination[kept + 1] = EndOfWord;
        }
        for (int k = 0; k < MaxCharacters; k++) destination[k] += 1;
    }

    /// <summary>Writes a batch of tokens ([N, 50], row-major); null entries are padding tokens.</summary>
    public void Write(IReadOnlyList<string?> tokens, Span<int> destination)
    {
        if (destination.Length != tokens.Count * MaxCharacters)
            throw new ArgumentException($"{tokens.Count} tokens take {tokens.Count * MaxCharacters} character ids, not {destination.Length}.");
        for (int i = 0; i < tokens.Count; i++) Write(tokens[i], destination.Slice(i * MaxCharacters, MaxCharacters));
    }

    static void WriteSingle(Span<int> destination, int character)
    {
        destination[1] = character;
        destination[2] = EndOfWord;
    }
}
