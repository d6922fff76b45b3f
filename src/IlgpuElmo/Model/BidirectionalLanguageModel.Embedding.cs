using IlgpuElmo.Data;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Model;

public sealed partial class BidirectionalLanguageModel
{
    /// <summary>n_layers + 1: the token layer and each LSTM layer.</summary>
    public int LayerCount => Options.Lstm.NLayers + 1;

    /// <summary>2P: forward and backward states side by side (the token layer duplicated to match).</summary>
    public int Width => 2 * Options.TokenDim;

    /// <summary>Each sentence from zero states (the default of `elmo embed`).</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences) => Embed(sentences, null);

    /// <summary>
    /// Every layer's vectors for a batch of tokenized sentences, [LayerCount, tokens, 2P] per sentence, as
    /// bilm-tf's dump_bilm_embeddings lays them out: each sentence is wrapped in &lt;S&gt; ... &lt;/S&gt;, run
    /// through both directions (the backward one right to left from the sentence's last token), and the
    /// boundary positions are dropped from the output. With <paramref name="carried"/> (rows = batch
    /// rows), each row starts from that row's state and leaves its final state there (stateful
    /// inference, as bilm-tf's and allennlp's); rows beyond the sentences given keep their state.
    /// </summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences, LstmState? carried)
    {
        if (sentences.Count == 0) return [];
        var s = device.Stream;
        int rows = carried?.Batch ?? sentences.Count;
        if (sentences.Count > rows)
            throw new ArgumentException($"Embed: {sentences.Count} sentences for a carried state of {rows} rows.");
        int steps = sentences.Max(x => x.Length) + 2, p = Options.TokenDim, layers = Options.Lstm.NLayers;
        var tokens = new string[steps * rows];
        Array.Fill(tokens, Vocabulary.Eos);
        var lengths = new int[rows];
        for (int b = 0; b < sentences.Count; b++)
        {
            var sentence = sentences[b];
            lengths[b] = sentence.Length + 2;
            tokens[b] = Vocabulary.Bos;
            for (int t = 0; t < sentence.Length; t++) tokens[(t + 1) * rows + b] = sentence[t];
            tokens[(sentence.Length + 1) * rows + b] = Vocabulary.Eos;
        }
        var positions = new TokenPositions(tokens);
        var encoded = EncodeTokens(positions.Unique);
        var map = workspace.Get<int>("embedPositionMap", tokens.Length);
        map.CopyFrom(s, positions.Map);
        var input = workspace.Get<float>("embedInput", steps, rows, p);
        tableRows.Gather(s, encoded.View, p, map.View, input.View);
        Lstm.Forward(input, LengthsOf(lengths), carried, carried);

        var host = new float[layers + 1][][];
        host[0] = [input.ToArray(s)];
        for (int k = 0; k < layers; k++)
            host[k + 1] = [Lstm.Output(0, k).ToArray(s), Lstm.Output(1, k).ToArray(s)];

        var result = new float[sentences.Count][];
        int width = 2 * p;
        for (int b = 0; b < sentences.Count; b++)
        {
            int n = sentences[b].Length;
            var vectors = new float[(layers + 1) * n * width];
            for (int layer = 0; layer <= layers; layer++)
                for (int t = 0; t < n; t++)
                {
                    long source = ((long)(t + 1) * rows + b) * p;
                    var target = vectors.AsSpan((layer * n + t) * width, width);
                    if (layer == 0)
                    {
                        host[0][0].AsSpan((int)source, p).CopyTo(target[..p]);
                        host[0][0].AsSpan((int)source, p).CopyTo(target[p..]);
                    }
                    else
                    {
                        host[layer][0].AsSpan((int)source, p).CopyTo(target[..p]);
                        host[layer][1].AsSpan((int)source, p).CopyTo(target[p..]);
                    }
                }
            result[b] = vectors;
        }
        return result;
    }

    /// <summary>
    /// The context-free token vector (layer 0, width P) of each word: what the token-vector cache holds.
    /// <paramref name="progress"/> hears the number of words done so far, after every chunk.
    /// </summary>
    public float[] TokenVectors(IReadOnlyList<string> words, IProgress<long>? progress = null)
    {
        var all = new float[(long)words.Count * Options.TokenDim];
        const int chunk = 4096;
        for (int start = 0; start < words.Count; start += chunk)
        {
            var part = words.Skip(start).Take(chunk).ToList();
            EncodeTokens(part).ToArray(device.Stream).CopyTo(all, (long)start * Options.TokenDim);
            progress?.Report(start + part.Count);
        }
        return all;
    }
}
