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
    /// As <see cref="Embed(IReadOnlyList{string[]}, LstmState?, EmbeddingBatch)"/>, each sentence's vectors in an
    /// array of its own, [LayerCount, tokens, 2P] (new arrays every call: batch loops use the overload that fills a reused <see cref="EmbeddingBatch"/>).
    /// </summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences, LstmState? carried)
    {
        var batch = new EmbeddingBatch();
        Embed(sentences, carried, batch);
        return Enumerable.Range(0, batch.Count).Select(i => batch.Sentence(i).ToArray()).ToArray();
    }

    /// <summary>
    /// Every layer's vectors for a batch of tokenized sentences, [LayerCount, tokens, 2P] per sentence in
    /// <paramref name="output"/>, as bilm-tf's dump_bilm_embeddings lays them out: each sentence is wrapped
    /// in &lt;S&gt; ... &lt;/S&gt;, run through both directions (the backward one right to left from the sentence's
    /// last token), and the boundary positions are dropped from the output. With <paramref name="carried"/>
    /// (rows = batch rows), each row starts from that row's state and leaves its final state there
    /// (stateful inference, as bilm-tf's and allennlp's); rows beyond the sentences given keep their state.
    /// </summary>
    /// <remarks>
    /// Batch after batch of no more rows and steps than an earlier one, nothing is allocated but small
    /// objects: the workspace, the host-side ids, the host copy of the layers and the output keep their
    /// buffers. Embed the longest batch first and later ones reuse its buffers (`elmo embed` does).
    /// </remarks>
    public void Embed(IReadOnlyList<string[]> sentences, LstmState? carried, EmbeddingBatch output)
    {
        int width = 2 * Options.TokenDim, p = Options.TokenDim, layers = Options.Lstm.NLayers;
        var vectors = output.Reset(sentences, (layers + 1) * width);
        if (sentences.Count == 0) return;
        var s = device.Stream;
        int rows = carried?.Batch ?? sentences.Count;
        if (sentences.Count > rows)
            throw new ArgumentException($"Embed: {sentences.Count} sentences for a carried state of {rows} rows.");
        int steps = sentences.Max(x => x.Length) + 2;
        // Batch row of each sentence: longest first (so the LSTMs skip the padding), or the sentence's own with carried state.
        var rowOf = new int[sentences.Count];
        if (carried is null)
        {
            var order = Enumerable.Range(0, sentences.Count).OrderByDescending(b => sentences[b].Length).ToArray();
            for (int r = 0; r < order.Length; r++) rowOf[order[r]] = r;
        }
        else for (int b = 0; b < rowOf.Length; b++) rowOf[b] = b;
        var tokens = new string[steps * rows];
        Array.Fill(tokens, Vocabulary.Eos);
        var lengths = new int[rows];
        for (int i = 0; i < sentences.Count; i++)
        {
            var sentence = sentences[i];
            int b = rowOf[i];
            lengths[b] = sentence.Length + 2;
            tokens[b] = Vocabulary.Bos;
            for (int t = 0; t < sentence.Length; t++) tokens[(t + 1) * rows + b] = sentence[t];
            tokens[(sentence.Length + 1) * rows + b] = Vocabulary.Eos;
        }
        var positions = new TokenPositions(tokens);
        ReserveEncoder(tokens.Length);
        var encoded = EncodeTokens(positions.Unique);
        var map = workspace.Get<int>("embedPositionMap", tokens.Length);
        map.CopyFrom(s, positions.Map);
        var input = workspace.Get<float>("embedInput", steps, rows, p);
        tableRows.Gather(s, encoded.View, p, map.View, input.View);
        Lstm.Forward(input, LengthsOf(lengths), carried, carried, inferenceOnly: true);

        // Each layer's [T, B, P] per direction, through one reused host copy.
        var layerOutputs = new DeviceTensor<float>[2 * layers + 1];
        layerOutputs[0] = input;
        for (int k = 0; k < layers; k++) (layerOutputs[2 * k + 1], layerOutputs[2 * k + 2]) = (Lstm.Output(0, k), Lstm.Output(1, k));
        var host = OnHost(layerOutputs);
        int layerLength = steps * rows * p;
        for (int i = 0; i < sentences.Count; i++)
        {
            int n = sentences[i].Length, start = output.Start(i), b = rowOf[i];
            for (int layer = 0; layer <= layers; layer++)
                for (int t = 0; t < n; t++)
                {
                    int source = ((t + 1) * rows + b) * p;
                    var target = vectors.Slice(start + (layer * n + t) * width, width);
                    // Layer 0 is the token vector on both halves; layer k the forward then the backward direction.
                    int forward = layer == 0 ? 0 : 2 * layer - 1, backward = layer == 0 ? 0 : 2 * layer;
                    host.Slice(forward * layerLength + source, p).CopyTo(target[..p]);
                    host.Slice(backward * layerLength + source, p).CopyTo(target[p..]);
                }
        }
    }

    /// <summary>
    /// The tensors' values on the host, one after the other (all the same length), copied into
    /// <see cref="embedHost"/>, which grows only for a larger batch than any before.
    /// </summary>
    ReadOnlySpan<float> OnHost(DeviceTensor<float>[] tensors)
    {
        int length = (int)tensors[0].Length;
        if (embedHost.Length < (long)length * tensors.Length) embedHost = GC.AllocateUninitializedArray<float>(length * tensors.Length);
        var host = embedHost.AsSpan(0, length * tensors.Length);
        for (int i = 0; i < tensors.Length; i++) tensors[i].CopyTo(device.Stream, host.Slice(i * length, length));
        return host;
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
