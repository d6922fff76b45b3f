namespace IlgpuElmo.Model;

/// <summary>
/// Contextual embeddings for tokenized sentences: for each sentence, every layer's vector per token,
/// as float[LayerCount * tokens * Width] laid out [layer, token, width] (bilm-tf's dump layout, layer 0
/// the context-free token vector duplicated to the full width).
/// </summary>
public interface ISentenceEmbedder
{
    int LayerCount { get; }
    int Width { get; }
    IReadOnlyList<float[]> Embed(IReadOnlyList<string[]> sentences);
}
