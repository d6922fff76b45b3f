namespace IlgpuElmo.Encoders;

/// <summary>Host-side checks of ids before they reach a kernel (kernels never range-check).</summary>
public static class EmbeddingIds
{
    /// <summary>Throws an <see cref="InputException"/> naming the first id outside [0, vocabularySize), its position and the size.</summary>
    public static void CheckRange(ReadOnlySpan<int> ids, int vocabularySize, string what)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)vocabularySize)
                throw new InputException(
                    $"{what}: id {ids[i]} at position {i} is outside the vocabulary of {vocabularySize} rows (valid ids are 0..{vocabularySize - 1}). " +
                    "Check that the vocabulary file matches the model's embedding table.");
        }
    }
}
