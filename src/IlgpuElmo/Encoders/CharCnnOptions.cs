namespace IlgpuElmo.Encoders;

/// <summary>Nonlinearity after the character convolutions' max-pool (bilm-tf's char_cnn.activation).</summary>
public enum CharActivation { Tanh, Relu }

/// <summary>One character-convolution filter bank: <see cref="Count"/> filters of <see cref="Width"/> characters.</summary>
public readonly record struct CnnFilter(int Width, int Count);

/// <summary>
/// bilm-tf's char_cnn block, as an options file gives it: character embeddings of <see cref="EmbeddingDim"/>,
/// convolutions with max-pool over the token's characters, <see cref="NHighway"/> highway layers. The
/// encoder's output width is the biLM's lstm.projection_dim P, given beside these options; bilm-tf projects
/// the filters to it only when their total differs from it.
/// </summary>
/// <param name="NCharacters">261 in training options, 262 in inference options (the extra row is the masking id 0;
/// the weight file's char_embed has 261 rows either way). Our table always has 262 rows, row 0 the zero row
/// of padding tokens; a published file's 261 rows go to rows 1..261.</param>
public sealed record CharCnnOptions(
    int EmbeddingDim,
    IReadOnlyList<CnnFilter> Filters,
    int NHighway,
    int NCharacters = CharacterMapper.TableRows,
    int MaxCharactersPerToken = CharacterMapper.MaxCharacters,
    CharActivation Activation = CharActivation.Relu)
{
    /// <summary>The published ELMo char CNN: dim 16, 2048 filters of widths 1-7, 2 highway layers, relu.</summary>
    public static CharCnnOptions OriginalElmo { get; } = new(16,
        [new(1, 32), new(2, 32), new(3, 64), new(4, 128), new(5, 256), new(6, 512), new(7, 1024)], 2);

    /// <summary>Width of the concatenated, max-pooled convolution outputs (the highway layers' width).</summary>
    public int NFilters => Filters.Sum(f => f.Count);

    /// <summary>bilm-tf projects only when the filter total differs from the output width P.</summary>
    public bool ProjectsTo(int projectionDim) => NFilters != projectionDim;

    /// <summary>Throws an <see cref="InputException"/> naming the first bad option, for an output width of <paramref name="projectionDim"/>.</summary>
    public void Validate(int projectionDim)
    {
        if (EmbeddingDim < 1) throw Bad($"char_cnn.embedding.dim is {EmbeddingDim}; it must be at least 1");
        if (Filters.Count == 0) throw Bad("char_cnn.filters is empty; give at least one [width, count]");
        foreach (var (width, count) in Filters)
            if (width < 1 || width > MaxCharactersPerToken || count < 1)
                throw Bad($"char_cnn.filters has [{width}, {count}]; widths must be 1..{MaxCharactersPerToken} and counts at least 1");
        if (NHighway < 0) throw Bad($"char_cnn.n_highway is {NHighway}; it must be 0 or more");
        if (NCharacters is not (261 or 262))
            throw Bad($"char_cnn.n_characters is {NCharacters}; ELMo's character ids need 261 (training) or 262 (with the padding row)");
        if (MaxCharactersPerToken != CharacterMapper.MaxCharacters)
            throw Bad($"char_cnn.max_characters_per_token is {MaxCharactersPerToken}; the character mapper writes {CharacterMapper.MaxCharacters}");
        if (projectionDim < 1) throw Bad($"lstm.projection_dim is {projectionDim}; it must be at least 1");
        if (ProjectsTo(projectionDim) && NFilters < projectionDim)
            throw Bad($"the filters total {NFilters}, less than lstm.projection_dim {projectionDim}; bilm-tf only projects down");
    }

    static InputException Bad(string message) => new($"Char CNN options: {message}.");
}
