namespace IlgpuElmo.Encoders;

public enum CharCnnActivation { Relu, Tanh }

/// <summary>
/// bilm-tf's <c>char_cnn</c> options: character embedding dim, filters as (width, count), highway
/// layers, n_characters, max_characters_per_token, activation; plus the biLM's projection dim P (the
/// encoder's output size; with P equal to the filter total there is no projection, as in bilm-tf).
/// </summary>
/// <remarks>
/// n_characters: published options files say 262 (inference, with the padding row) and training files
/// 261; our table always has 262 rows, row 0 the zero row of padding tokens. Published weight files
/// store 261 rows of <c>char_embed</c>, which go to rows 1..261.
/// </remarks>
public sealed record CharCnnOptions(
    int EmbeddingDim,
    IReadOnlyList<(int Width, int Count)> Filters,
    int HighwayLayers,
    int ProjectionDim,
    CharCnnActivation Activation = CharCnnActivation.Relu,
    int CharacterCount = CharacterMapper.TableRows,
    int MaxCharactersPerToken = CharacterMapper.MaxCharacters)
{
    /// <summary>The published ELMo char CNN: dim 16, 2048 filters of widths 1-7, 2 highway layers, relu.</summary>
    public static CharCnnOptions OriginalElmo(int projectionDim = 512) => new(16,
        [(1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)], 2, projectionDim);

    public int FilterTotal => Filters.Sum(f => f.Count);

    /// <summary>bilm-tf projects only when the filter total differs from P.</summary>
    public bool UsesProjection => FilterTotal != ProjectionDim;

    /// <summary>Throws an <see cref="InputException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (EmbeddingDim < 1) throw Bad($"char_cnn.embedding.dim is {EmbeddingDim}; it must be at least 1");
        if (Filters.Count == 0) throw Bad("char_cnn.filters is empty; give at least one [width, count]");
        foreach (var (width, count) in Filters)
            if (width < 1 || width > MaxCharactersPerToken || count < 1)
                throw Bad($"char_cnn.filters has [{width}, {count}]; widths must be 1..{MaxCharactersPerToken} and counts at least 1");
        if (HighwayLayers < 0) throw Bad($"char_cnn.n_highway is {HighwayLayers}; it must be 0 or more");
        if (CharacterCount is not (261 or 262))
            throw Bad($"char_cnn.n_characters is {CharacterCount}; ELMo's character ids need 261 (training) or 262 (with the padding row)");
        if (MaxCharactersPerToken != CharacterMapper.MaxCharacters)
            throw Bad($"char_cnn.max_characters_per_token is {MaxCharactersPerToken}; the character mapper writes {CharacterMapper.MaxCharacters}");
        if (ProjectionDim < 1) throw Bad($"lstm.projection_dim is {ProjectionDim}; it must be at least 1");
        if (UsesProjection && FilterTotal < ProjectionDim)
            throw Bad($"the filters total {FilterTotal}, less than lstm.projection_dim {ProjectionDim}; bilm-tf only projects down");
    }

    static InputException Bad(string message) => new($"Char CNN options: {message}.");
}
