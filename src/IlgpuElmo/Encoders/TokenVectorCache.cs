using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Encoders;

/// <summary>
/// Layer 0 computed once per vocabulary word and looked up instead of running the char CNN (what
/// bilm-tf's dump_token_embeddings is for): vectors [W, P], row r the encoder's output for words[r].
/// A lookup is a row gather, so it returns exactly the stored vectors.
/// </summary>
public sealed class TokenVectorCache : IDisposable
{
    readonly EmbeddingKernels kernels;
    readonly Dictionary<string, int> rowOf;
    readonly Workspace workspace;

    /// <summary>From vectors [words.Count, outputSize] (row-major) already computed, e.g. read from a file.</summary>
    public TokenVectorCache(ComputeDevice device, ReadOnlySpan<float> vectors, IReadOnlyList<string> words, int outputSize)
    {
        if (vectors.Length != (long)words.Count * outputSize)
            throw new InputException($"Token vectors: {vectors.Length} values do not make [{words.Count}, {outputSize}] (one row of {outputSize} per word).");
        rowOf = new Dictionary<string, int>(words.Count, StringComparer.Ordinal);
        for (int r = 0; r < words.Count; r++)
            if (!rowOf.TryAdd(words[r], r))
                throw new InputException($"Token vectors: the word '{words[r]}' appears twice (rows {rowOf[words[r]]} and {r}); a vocabulary lists each word once.");
        kernels = device.Kernels(rt => new EmbeddingKernels(rt));
        workspace = new Workspace(device);
        Words = words;
        OutputSize = outputSize;
        Vectors = device.Upload(vectors, words.Count, outputSize);
    }

    /// <summary>Runs <paramref name="encoder"/> on every word (in batches of <paramref name="batchSize"/>) and keeps the vectors.</summary>
    public static TokenVectorCache Build(ComputeDevice device, CharacterEncoder encoder, IReadOnlyList<string> words, int batchSize = 1024)
    {
        var mapper = new CharacterMapper();
        var vectors = new float[(long)words.Count * encoder.OutputSize];
        using var workspace = new Workspace(device);
        for (int start = 0; start < words.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, words.Count - start);
            var ids = new int[n * CharacterMapper.MaxCharacters];
            for (int i = 0; i < n; i++)
                mapper.Write(words[start + i], ids.AsSpan(i * CharacterMapper.MaxCharacters, CharacterMapper.MaxCharacters));
            var dIds = workspace.Get<int>("char ids", n, CharacterMapper.MaxCharacters);
            var output = workspace.Get<float>("vectors", n, encoder.OutputSize);
            dIds.CopyFrom(device.Stream, ids);
            encoder.Forward(device.Stream, dIds, output);
            output.CopyTo(device.Stream, vectors.AsSpan(start * encoder.OutputSize, n * encoder.OutputSize));
        }
        return new TokenVectorCache(device, vectors, words, encoder.OutputSize);
    }

    /// <summary>
    /// A cache from a dump_token_embeddings file (dataset `embedding` [n_words, P], as `elmo
    /// dump-token-embeddings` and bilm-tf write it) and the word list it was made from, row by row.
    /// </summary>
    public static TokenVectorCache Load(ComputeDevice device, string path, IReadOnlyList<string> words, int outputSize)
    {
        var vectors = Formats.TokenEmbeddingsFile.Read(path, out _, out _, expectedWords: words.Count, expectedDim: outputSize);
        return new TokenVectorCache(device, vectors, words, outputSize);
    }

    public IReadOnlyList<string> Words { get; }
    public int OutputSize { get; }

    /// <summary>The vectors [W, P].</summary>
    public DeviceTensor<float> Vectors { get; }

    public bool TryGetRow(string word, out int row) => rowOf.TryGetValue(word, out row);

    /// <summary>output [N, P] = vectors[rows [N]] (rows checked on the host by the caller, e.g. with <see cref="EmbeddingIds.CheckRange"/>).</summary>
    public void Lookup(AcceleratorStream stream, DeviceTensor<int> rows, DeviceTensor<float> output)
    {
        output.Expect("token vectors output", new Shape(rows.Shape[0], OutputSize));
        kernels.Gather(stream, Vectors.View, OutputSize, rows.View, output.View);
    }

    /// <summary>output [N, P] for N tokens; a token not in the cache is an <see cref="InputException"/> naming it.</summary>
    public void Lookup(AcceleratorStream stream, IReadOnlyList<string> tokens, DeviceTensor<float> output)
    {
        var rows = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
            if (!rowOf.TryGetValue(tokens[i], out rows[i]))
                throw new InputException($"Token vectors: '{tokens[i]}' (token {i}) is not among the {Words.Count} cached words; run the char CNN for it or add it to the vocabulary.");
        var dRows = workspace.Get<int>("rows", tokens.Count);
        dRows.CopyFrom(stream, rows);
        Lookup(stream, dRows, output);
    }

    public void Dispose()
    {
        Vectors.Dispose();
        workspace.Dispose();
    }
}
