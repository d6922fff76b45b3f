namespace IlgpuElmo.Probing;

/// <summary>
/// Running sums of each layer's feature values and their squares over token vectors, [L, W] each, in
/// float64: the statistics of the probe's feature standardisation, taken from the training tokens only.
/// </summary>
public sealed class FeatureMoments(int layers, int width)
{
    readonly double[] sum = new double[layers * width], squares = new double[layers * width];

    public int Width => width;
    public long Rows { get; private set; }

    /// <summary>Adds token vectors [tokens, W] of one layer.</summary>
    public void Add(int layer, ReadOnlySpan<float> rows)
    {
        if (rows.Length % width != 0) throw new ArgumentException($"{rows.Length} values are not rows of {width}.", nameof(rows));
        var s = sum.AsSpan(layer * width, width);
        var q = squares.AsSpan(layer * width, width);
        for (int r = 0; r < rows.Length; r += width)
            for (int c = 0; c < width; c++)
            {
                double v = rows[r + c];
                s[c] += v;
                q[c] += v * v;
            }
        if (layer == 0) Rows += rows.Length / width;
    }

    /// <summary>
    /// The affine map x -> x * scale + shift that gives every feature of every layer mean 0 and variance 1
    /// over the rows added, [L * W] each; a feature with (almost) no spread is only centred.
    /// </summary>
    public (float[] Scale, float[] Shift) Standardization()
    {
        var scale = new float[sum.Length];
        var shift = new float[sum.Length];
        for (int i = 0; i < sum.Length; i++)
        {
            double mean = Rows == 0 ? 0 : sum[i] / Rows;
            double variance = Rows == 0 ? 0 : Math.Max(0, squares[i] / Rows - mean * mean);
            double std = Math.Sqrt(variance);
            scale[i] = std > 1e-6 ? (float)(1 / std) : 1f;
            shift[i] = (float)(-mean * scale[i]);
        }
        return (scale, shift);
    }
}
