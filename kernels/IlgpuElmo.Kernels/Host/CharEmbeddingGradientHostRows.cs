using System.Numerics.Tensors;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's <see cref="CharCnnKernels.EmbeddingGradient"/>: one worker per range of table rows, each
/// visiting the tokens in order and adding its rows' positions a row (d floats) at a time; a token's padding
/// positions are summed first and added once, as the kernel does. Views are CPU-accelerator memory.
/// </summary>
static class CharEmbeddingGradientHostRows
{
    /// <summary>tableGrad rows in [firstRow, endRow) get their positions' gradients, tokens and positions in ascending order.</summary>
    public static void AddRows(CharEmbeddingParams p, ArrayView<int> charIds, ArrayView<float> gradEmbedded, ArrayView<float> tableGrad,
        long firstRow, long endRow)
    {
        if (firstRow >= endRow) return;
        int d = p.EmbedDim;
        var ids = charIds.AsHostSpan();
        var gradient = gradEmbedded.AsHostSpan();
        var table = tableGrad.AsHostSpan();
        bool ownsPadding = p.PaddingId >= firstRow && p.PaddingId < endRow;
        Span<float> padding = d <= 256 ? stackalloc float[d] : new float[d];
        for (int token = 0; token < p.Tokens; token++)
        {
            bool padded = false;
            padding.Clear();
            for (int c = 0; c < p.MaxChars; c++)
            {
                int at = token * p.MaxChars + c, id = ids[at];
                var g = gradient.Slice(at * d, d);
                if (id == p.PaddingId)
                {
                    if (!ownsPadding) continue;
                    TensorPrimitives.Add(padding, g, padding);
                    padded = true;
                }
                else if (id != 0 && id >= firstRow && id < endRow)
                {
                    var row = table.Slice(id * d, d);
                    TensorPrimitives.Add(row, g, row);
                }
            }
            if (padded)
            {
                var row = table.Slice(p.PaddingId * d, d);
                TensorPrimitives.Add(row, padding, row);
            }
        }
    }
}
