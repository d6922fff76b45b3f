namespace IlgpuElmo.Formats;

/// <summary>Which layers an embedding dump keeps for each token.</summary>
public enum EmbeddingLayers
{
    /// <summary>Every layer: [n_layers + 1, n_tokens, 2P], bilm-tf's dump_bilm_embeddings layout.</summary>
    All,

    /// <summary>The top LSTM layer only: [n_tokens, 2P].</summary>
    Top,

    /// <summary>The plain mean of the layers: [n_tokens, 2P].</summary>
    Average,

    /// <summary>gamma * sum_l w_l h_l with given weights and gamma: [n_tokens, 2P].</summary>
    Mix,
}

/// <summary>
/// What an embedding dump stores per input line.
/// </summary>
/// <param name="Layers">All layers, the top, the average, or a given mix.</param>
/// <param name="MixWeights">For <see cref="EmbeddingLayers.Mix"/>: one weight per layer, used as given (a trained
/// ScalarMix's softmax(s)); there is no softmax here.</param>
/// <param name="MixGamma">For <see cref="EmbeddingLayers.Mix"/>: the overall scale.</param>
/// <param name="MeanPool">Average over the line's tokens (TF-Hub ELMo's `default` sentence vector when combined
/// with a mix or the average): the token axis is dropped, giving [n_layers + 1, 2P] for All and [2P] otherwise.
/// An empty line has no mean: its vector has the same shape, every value NaN (0/0), so no reader mistakes it
/// for a sentence's and every line's dataset has one shape.</param>
/// <param name="Storage">float32, or float16 (half the file; about 3 significant digits).</param>
public sealed record EmbeddingOutput(
    EmbeddingLayers Layers = EmbeddingLayers.All,
    IReadOnlyList<float>? MixWeights = null,
    float MixGamma = 1f,
    bool MeanPool = false,
    Hdf5Storage Storage = Hdf5Storage.Float32)
{
    /// <summary>
    /// The dataset shape for a line of <paramref name="tokens"/> tokens. An empty line gives an empty
    /// dataset: [L, 0, W] (as bilm-tf writes it) or [0, W]; pooled, every line has the same shape ([L, W] or [W]).
    /// </summary>
    public int[] DatasetShape(int layerCount, int tokens, int width)
    {
        if (MeanPool) return Layers == EmbeddingLayers.All ? [layerCount, width] : [width];
        return Layers == EmbeddingLayers.All ? [layerCount, tokens, width] : [tokens, width];
    }

    /// <summary>Throws naming the option when it does not fit <paramref name="layerCount"/> layers.</summary>
    public void Validate(int layerCount)
    {
        if (Layers == EmbeddingLayers.Mix)
        {
            if (MixWeights is null || MixWeights.Count != layerCount)
                throw new InputException(
                    $"--scalar-mix: {MixWeights?.Count ?? 0} weights given for a model with {layerCount} layers (the token layer and {layerCount - 1} LSTM layers); give one per layer.");
            if (MixWeights.Any(w => !float.IsFinite(w)) || !float.IsFinite(MixGamma))
                throw new InputException("--scalar-mix: weights and gamma must be finite numbers.");
        }
        else if (MixWeights is not null)
            throw new InputException($"Scalar-mix weights were given but the output is '{Layers}'; use the mix output to apply them.");
    }

    /// <summary>
    /// Reduces one line's layers [layerCount, tokens, width] (row-major) to what is stored, of shape
    /// <see cref="DatasetShape"/>.
    /// </summary>
    public float[] Reduce(ReadOnlySpan<float> layers, int layerCount, int tokens, int width)
    {
        long perLayer = (long)tokens * width;
        if (layers.Length != layerCount * perLayer)
            throw new ArgumentException($"A line's layers have {layers.Length} values; expected [{layerCount}, {tokens}, {width}].");
        float[] reduced;
        int reducedLayers;
        switch (Layers)
        {
            case EmbeddingLayers.All:
                reduced = layers.ToArray();
                reducedLayers = layerCount;
                break;
            case EmbeddingLayers.Top:
                reduced = layers.Slice((int)((layerCount - 1) * perLayer), (int)perLayer).ToArray();
                reducedLayers = 1;
                break;
            default:
                var weights = new double[layerCount];
                for (int l = 0; l < layerCount; l++)
                    weights[l] = Layers == EmbeddingLayers.Average ? 1.0 / layerCount : (double)MixGamma * MixWeights![l];
                reduced = new float[perLayer];
                for (int i = 0; i < perLayer; i++)
                {
                    double sum = 0;
                    for (int l = 0; l < layerCount; l++) sum += weights[l] * layers[(int)(l * perLayer + i)];
                    reduced[i] = (float)sum;
                }
                reducedLayers = 1;
                break;
        }
        if (!MeanPool) return reduced;
        var pooled = new float[reducedLayers * width];
        if (tokens == 0)
        {
            Array.Fill(pooled, float.NaN);
            return pooled;
        }
        for (int l = 0; l < reducedLayers; l++)
            for (int c = 0; c < width; c++)
            {
                double sum = 0;
                for (int t = 0; t < tokens; t++) sum += reduced[((long)l * tokens + t) * width + c];
                pooled[l * width + c] = (float)(sum / tokens);
            }
        return pooled;
    }
}

/// <summary>
/// Writes contextual embeddings in the layout of bilm-tf's dump_bilm_embeddings: one dataset per input
/// line, named by the line's index ("0", "1", ...), of shape [n_layers + 1, n_tokens, 2P] (layer 0 the
/// token encoder's output duplicated to 2P, layers 1.. the forward and backward LSTM outputs
/// concatenated), or the reduced shapes of <see cref="EmbeddingOutput"/>. Every line gets its dataset,
/// an empty line an empty one, so indices never shift.
/// </summary>
/// <remarks>
/// Lines are declared up front (their token counts) and written in any order, as length-sorted
/// batches finish; each is streamed to disk when written. The file appears at its path only on
/// <see cref="Commit"/> (see <see cref="Hdf5Writer"/>).
/// </remarks>
public sealed class EmbeddingsWriter : IDisposable
{
    readonly Hdf5Writer writer;
    readonly DeclaredDataset[] datasets;
    readonly int[] tokensPerLine;

    /// <param name="tokensPerLine">Token count of every input line, in file order (0 for an empty line).</param>
    /// <param name="layerCount">n_layers + 1.</param>
    /// <param name="width">2P, the width of every layer.</param>
    public EmbeddingsWriter(string path, IReadOnlyList<int> tokensPerLine, int layerCount, int width, EmbeddingOutput output)
    {
        if (layerCount < 1 || width < 1) throw new ArgumentException($"Embeddings need at least one layer and a positive width; got {layerCount} layers of {width}.");
        output.Validate(layerCount);
        Output = output;
        LayerCount = layerCount;
        Width = width;
        this.tokensPerLine = tokensPerLine.ToArray();
        writer = new Hdf5Writer(path, output.Storage);
        datasets = new DeclaredDataset[this.tokensPerLine.Length];
        for (int line = 0; line < datasets.Length; line++)
        {
            if (this.tokensPerLine[line] < 0) throw new ArgumentException($"Line {line} has a negative token count.");
            datasets[line] = writer.Declare(line.ToString(System.Globalization.CultureInfo.InvariantCulture),
                output.DatasetShape(layerCount, this.tokensPerLine[line], width));
        }
    }

    public EmbeddingOutput Output { get; }
    public int LayerCount { get; }
    public int Width { get; }
    public int Lines => datasets.Length;
    public string Path => writer.Path;

    /// <summary>Writes line <paramref name="line"/>'s layers [layerCount, n_tokens, width], row-major.</summary>
    public void Write(int line, ReadOnlySpan<float> layers)
    {
        if ((uint)line >= (uint)datasets.Length) throw new ArgumentOutOfRangeException(nameof(line), line, $"The dump has lines 0..{datasets.Length - 1}.");
        if (datasets[line].Written && tokensPerLine[line] == 0) return;
        writer.Write(datasets[line], Output.Reduce(layers, LayerCount, tokensPerLine[line], Width));
    }

    /// <summary>
    /// Writes line <paramref name="line"/> from row <paramref name="row"/> of a time-major batch
    /// [layerCount, steps, batchSize, width], taking the line's first n_tokens steps.
    /// </summary>
    public void WriteFromBatch(int line, ReadOnlySpan<float> batch, int steps, int batchSize, int row)
    {
        int tokens = tokensPerLine[line];
        if (batch.Length != (long)LayerCount * steps * batchSize * Width)
            throw new ArgumentException($"The batch has {batch.Length} values; expected [{LayerCount}, {steps}, {batchSize}, {Width}].");
        if (tokens > steps || (uint)row >= (uint)batchSize)
            throw new ArgumentException($"Line {line} ({tokens} tokens) does not fit row {row} of a batch of {batchSize} rows and {steps} steps.");
        Write(line, ExtractRow(batch, LayerCount, steps, batchSize, Width, row, tokens));
    }

    /// <summary>Row <paramref name="row"/>'s first <paramref name="tokens"/> steps of a time-major [layers, steps, batchSize, width] batch, as [layers, tokens, width].</summary>
    public static float[] ExtractRow(ReadOnlySpan<float> batch, int layers, int steps, int batchSize, int width, int row, int tokens)
    {
        var result = new float[(long)layers * tokens * width];
        for (int l = 0; l < layers; l++)
            for (int t = 0; t < tokens; t++)
                batch.Slice((int)((((long)l * steps + t) * batchSize + row) * width), width)
                    .CopyTo(result.AsSpan((int)(((long)l * tokens + t) * width), width));
        return result;
    }

    /// <summary>Finishes the file and moves it into place; every non-empty line must have been written.</summary>
    public void Commit() => writer.Commit();

    public void Dispose() => writer.Dispose();
}

/// <summary>
/// The context-free token vectors of a vocabulary as bilm-tf's dump_token_embeddings writes them: one
/// dataset `embedding` of shape [n_words, P], row k the vector of vocabulary word k. bilm-tf loads the
/// same file as a word-id model's embedding table (adding its padding row 0 itself); the token-vector
/// cache reads it.
/// </summary>
public static class TokenEmbeddingsFile
{
    /// <summary>bilm-tf's name, which is also a word-id model's token table in its weight files.</summary>
    public const string DatasetName = "embedding";

    /// <summary>Writes [words, dim] row-major values atomically.</summary>
    public static void Write(string path, ReadOnlySpan<float> embedding, int words, int dim, Hdf5Storage storage = Hdf5Storage.Float32)
    {
        using var writer = new Hdf5Writer(path, storage);
        writer.Add(DatasetName, embedding, [words, dim]);
        writer.Commit();
    }

    /// <summary>Reads the table, checking its shape against the expected word count and width (-1: any).</summary>
    public static float[] Read(string path, out int words, out int dim, int expectedWords = -1, int expectedDim = -1)
    {
        using var file = WeightFile.Open(path);
        var shape = file.ShapeOf(DatasetName);
        if (shape is not null && shape.Length == 2)
        {
            words = shape[0];
            dim = shape[1];
        }
        else
        {
            words = dim = 0;
        }
        return file.Read(DatasetName, expectedWords, expectedDim);
    }
}
