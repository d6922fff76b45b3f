using IlgpuElmo.Formats;

namespace IlgpuElmo.Model;

/// <summary>One dataset a weight file must hold: its HDF5 path and shape, and what it is.</summary>
public sealed record WeightSpec(string Name, int[] Shape, string Description)
{
    public override string ToString() => $"{Name} {WeightFile.Format(Shape)}";
}

/// <summary>
/// The dataset names and shapes of a biLM weight file as bilm-tf's dump_weights writes it and
/// allennlp's Elmo reads it: bilm-tf's TensorFlow variable names under the 'lm' scope, the scope
/// removed. Matrices are [in, out], applied as x W.
/// </summary>
/// <remarks>
/// <para>Token encoder of a character model (options with char_cnn), with d = char_cnn.embedding.dim,
/// F = total filters, P = lstm.projection_dim:</para>
/// <list type="bullet">
/// <item>char_embed [261, d]: rows for character ids 0..260 as the training vocabulary numbers them
/// (bytes 0-255, then begin-of-sentence 256, end-of-sentence 257, begin-of-word 258, end-of-word 259,
/// padding 260). At inference bilm-tf and allennlp add 1 to every id so that 0 masks a missing token,
/// and put a zero row in front: the file has no row for that masking id.</item>
/// <item>CNN/W_cnn_k [1, width_k, d, count_k], CNN/b_cnn_k [count_k]: filter bank k of char_cnn.filters
/// (a 2-D convolution over [1, chars] with VALID padding, then max over positions, then the activation).</item>
/// <item>CNN_high_k/{W_carry, W_transform} [F, F], {b_carry, b_transform} [F], k &lt; n_highway:
/// g = sigmoid(x W_carry + b_carry), y = g * relu(x W_transform + b_transform) + (1 - g) * x
/// (bilm-tf calls the sigmoid gate "carry" although it weights the transform).</item>
/// <item>CNN_proj/W_proj [F, P], CNN_proj/b_proj [P]: only when F != P.</item>
/// </list>
/// <para>A word-id model (no char_cnn) has instead `embedding` [V, P], row k the vector of vocabulary
/// word k (bilm-tf adds its padding row 0 when loading, as for char_embed).</para>
/// <para>LSTM layer l of direction r (0 forward, 1 backward), H = lstm.dim, O = P when P &lt; H else H,
/// input width I = P for layer 0 and O above:
/// RNN_r/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0 [I + O, 4H] (rows: the input, then the previous output),
/// B [4H], and W_P_0 [H, P] when P &lt; H. The 4H columns are TensorFlow's gates in the order
/// i (input), j (candidate, tanh), f (forget), o (output). TensorFlow's LSTMCell adds forget_bias = 1.0
/// to f at run time; it is NOT stored in B, so a loader must add <see cref="ForgetBias"/> (allennlp
/// adds it to B when loading) and an exporter must subtract it from a bias that includes it.
/// c = clip(sigmoid(f + 1) c_prev + sigmoid(i) tanh(j), cell_clip); h = clip((sigmoid(o) tanh(c)) W_P_0, proj_clip).</para>
/// <para>The softmax (softmax/W [V, P], softmax/b [V] in bilm-tf's training checkpoints) is not in
/// published weight files: dump_weights skips every variable named softmax.</para>
/// </remarks>
public static class BilmWeightNames
{
    /// <summary>Rows of char_embed in the file: character ids 0..260 of the training vocabulary.</summary>
    public const int CharacterRows = 261;

    /// <summary>TensorFlow's LSTMCell forget_bias, added to the f gate's pre-activation at run time, not stored in B.</summary>
    public const float ForgetBias = 1.0f;

    /// <summary>Gate blocks of the 4H columns of W_0 and B, in TensorFlow's order.</summary>
    public const int GateI = 0, GateJ = 1, GateF = 2, GateO = 3;

    public const string CharEmbedding = "char_embed";

    /// <summary>Word-id models' token table [V, P]: dump_token_embeddings' dataset, which such a model loads.</summary>
    public const string TokenEmbedding = TokenEmbeddingsFile.DatasetName;

    public const string ProjectionWeight = "CNN_proj/W_proj";
    public const string ProjectionBias = "CNN_proj/b_proj";

    /// <summary>bilm-tf training checkpoint names of the softmax; absent from published weight files.</summary>
    public const string SoftmaxWeight = "softmax/W", SoftmaxBias = "softmax/b";

    public static string CnnWeight(int k) => $"CNN/W_cnn_{k}";
    public static string CnnBias(int k) => $"CNN/b_cnn_{k}";
    public static string HighwayCarryWeight(int k) => $"CNN_high_{k}/W_carry";
    public static string HighwayCarryBias(int k) => $"CNN_high_{k}/b_carry";
    public static string HighwayTransformWeight(int k) => $"CNN_high_{k}/W_transform";
    public static string HighwayTransformBias(int k) => $"CNN_high_{k}/b_transform";

    /// <summary>The scope of LSTM layer <paramref name="layer"/> in direction 0 (forward) or 1 (backward).</summary>
    public static string LstmScope(int direction, int layer)
    {
        if (direction is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(direction), direction, "0 = forward, 1 = backward.");
        return $"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell";
    }

    public static string LstmKernel(int direction, int layer) => LstmScope(direction, layer) + "/W_0";
    public static string LstmBias(int direction, int layer) => LstmScope(direction, layer) + "/B";
    public static string LstmProjection(int direction, int layer) => LstmScope(direction, layer) + "/W_P_0";

    /// <summary>Input width of LSTM layer <paramref name="layer"/>: P for the first, the layer output width O above.</summary>
    public static int LstmInputDim(LstmOptions lstm, int layer) => layer == 0 ? lstm.ProjectionDim : lstm.OutputDim;

    /// <summary>
    /// Every dataset a weight file for <paramref name="options"/> holds, in bilm-tf's order. For word-id
    /// models the `embedding` rows are n_tokens_vocab, or -1 (any) when the options do not give it.
    /// </summary>
    public static IReadOnlyList<WeightSpec> Expected(BilmOptions options)
    {
        var specs = new List<WeightSpec>();
        int p = options.TokenDim;
        if (options.CharCnn is { } cnn)
        {
            int d = cnn.EmbeddingDim, f = cnn.NFilters;
            specs.Add(new(CharEmbedding, [CharacterRows, d], "character embeddings (ids 0..260; the masking id 0 of inference has no row)"));
            for (int k = 0; k < cnn.Filters.Count; k++)
            {
                var filter = cnn.Filters[k];
                specs.Add(new(CnnWeight(k), [1, filter.Width, d, filter.Count], $"convolution {k}: width {filter.Width}, {filter.Count} filters"));
                specs.Add(new(CnnBias(k), [filter.Count], $"convolution {k} bias"));
            }
            for (int k = 0; k < cnn.NHighway; k++)
            {
                specs.Add(new(HighwayCarryWeight(k), [f, f], $"highway {k} gate weight"));
                specs.Add(new(HighwayCarryBias(k), [f], $"highway {k} gate bias"));
                specs.Add(new(HighwayTransformWeight(k), [f, f], $"highway {k} transform weight"));
                specs.Add(new(HighwayTransformBias(k), [f], $"highway {k} transform bias"));
            }
            if (f != p)
            {
                specs.Add(new(ProjectionWeight, [f, p], "projection of the filters to the token width"));
                specs.Add(new(ProjectionBias, [p], "projection bias"));
            }
        }
        else
        {
            specs.Add(new(TokenEmbedding, [options.NTokensVocab ?? -1, p], "word embeddings, row k = vocabulary word k"));
        }

        var lstm = options.Lstm;
        int h = lstm.Dim, o = lstm.OutputDim;
        for (int direction = 0; direction < 2; direction++)
            for (int layer = 0; layer < lstm.NLayers; layer++)
            {
                string which = $"{(direction == 0 ? "forward" : "backward")} layer {layer}";
                int input = LstmInputDim(lstm, layer);
                specs.Add(new(LstmKernel(direction, layer), [input + o, 4 * h], $"{which} LSTM kernel, rows input then previous output, gates i, j, f, o"));
                specs.Add(new(LstmBias(direction, layer), [4 * h], $"{which} LSTM bias (forget bias 1.0 not included)"));
                if (lstm.Projects) specs.Add(new(LstmProjection(direction, layer), [h, p], $"{which} LSTM output projection"));
            }
        return specs;
    }

    /// <summary>The softmax datasets of bilm-tf's training checkpoints (not in published weight files).</summary>
    public static IReadOnlyList<WeightSpec> Softmax(BilmOptions options, int vocabularySize) =>
    [
        new(SoftmaxWeight, [vocabularySize, options.Lstm.OutputDim], "softmax weights, row k = word k"),
        new(SoftmaxBias, [vocabularySize], "softmax bias"),
    ];

    /// <summary>
    /// Checks that <paramref name="file"/> holds every dataset of <see cref="Expected"/> with its shape,
    /// reporting all problems at once (each naming the dataset and both shapes).
    /// </summary>
    public static void Check(WeightFile file, BilmOptions options)
    {
        var problems = new List<string>();
        foreach (var spec in Expected(options))
        {
            var shape = file.ShapeOf(spec.Name);
            if (shape is null) problems.Add($"'{spec.Name}' ({spec.Description}) is missing, expected shape {WeightFile.Format(spec.Shape)}");
            else if (shape.Length != spec.Shape.Length || shape.Where((n, i) => spec.Shape[i] >= 0 && spec.Shape[i] != n).Any())
                problems.Add($"'{spec.Name}' has shape {WeightFile.Format(shape)}, expected {WeightFile.Format(spec.Shape)}");
        }
        if (problems.Count > 0)
            throw new InputException(
                $"{file.Path} does not match the options ({problems.Count} problems):\n  " + string.Join("\n  ", problems) +
                "\nAre the options file and the weight file from the same model?");
    }
}
