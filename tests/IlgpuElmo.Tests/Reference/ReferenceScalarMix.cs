namespace IlgpuElmo.Tests.Reference;

/// <summary>
/// Plain float64 scalar mix, written from allennlp's definition: out = gamma * sum_l softmax(s)_l * y_l,
/// y_l = h_l or (h_l - mean_l) / sqrt(var_l + 1e-12) with mean and variance over the unmasked elements of
/// layer l. Layers [L, T, B, D] time-major; position (t, b) is unmasked when t &lt; lengths[b] (no lengths: all).
/// Backward is the textbook chain rule through mean and variance (a different arrangement from the kernels').
/// </summary>
public static class ReferenceScalarMix
{
    public static double[] Softmax(double[] s)
    {
        double max = s.Max();
        var e = s.Select(v => Math.Exp(v - max)).ToArray();
        double total = e.Sum();
        return e.Select(v => v / total).ToArray();
    }

    public static double[] Mask(int steps, int batch, int dim, int[]? lengths)
    {
        var mask = new double[steps * batch * dim];
        for (int t = 0; t < steps; t++)
            for (int b = 0; b < batch; b++)
                for (int d = 0; d < dim; d++)
                    mask[(t * batch + b) * dim + d] = lengths is null || t < lengths[b] ? 1 : 0;
        return mask;
    }

    /// <summary>Per layer: (mean, sigma = sqrt(var + eps), y).</summary>
    static (double Mean, double Sigma, double[] Y) Normalize(double[] x, double[] mask)
    {
        double count = mask.Sum();
        double mean = x.Zip(mask, (v, m) => v * m).Sum() / count;
        double variance = x.Zip(mask, (v, m) => m * (v - mean) * (v - mean)).Sum() / count;
        double sigma = Math.Sqrt(variance + 1e-12);
        return (mean, sigma, x.Select(v => (v - mean) / sigma).ToArray());
    }

    static double[] Layer(double[] layers, int l, int size) => layers.Skip(l * size).Take(size).ToArray();

    public static double[] Forward(double[] layers, int layerCount, int steps, int batch, int dim, int[]? lengths,
        double[] s, double gamma, bool layerNorm)
    {
        int size = steps * batch * dim;
        var mask = Mask(steps, batch, dim, lengths);
        var w = Softmax(s);
        var output = new double[size];
        for (int l = 0; l < layerCount; l++)
        {
            var x = Layer(layers, l, size);
            var y = layerNorm ? Normalize(x, mask).Y : x;
            for (int e = 0; e < size; e++) output[e] += gamma * w[l] * y[e];
        }
        return output;
    }

    public static (double[] GradLayers, double[] GradScalars, double GradGamma) Backward(double[] layers, int layerCount, int steps, int batch, int dim,
        int[]? lengths, double[] s, double gamma, bool layerNorm, double[] gradOutput)
    {
        int size = steps * batch * dim;
        var mask = Mask(steps, batch, dim, lengths);
        double count = mask.Sum();
        var w = Softmax(s);
        var gradLayers = new double[layerCount * size];
        var gradWeights = new double[layerCount];
        double gradGamma = 0;
        for (int l = 0; l < layerCount; l++)
        {
            var x = Layer(layers, l, size);
            double mean = 0, sigma = 1;
            var y = x;
            if (layerNorm) (mean, sigma, y) = Normalize(x, mask);
            double a = 0;
            for (int e = 0; e < size; e++) a += gradOutput[e] * y[e];
            gradWeights[l] = gamma * a;
            gradGamma += w[l] * a;
            var gradY = gradOutput.Select(g => gamma * w[l] * g).ToArray();
            if (!layerNorm)
            {
                for (int e = 0; e < size; e++) gradLayers[l * size + e] = gradY[e];
                continue;
            }
            double variance = sigma * sigma - 1e-12;
            double gradVariance = 0, gradMean = 0;
            for (int e = 0; e < size; e++) gradVariance += gradY[e] * (x[e] - mean) * -0.5 * Math.Pow(variance + 1e-12, -1.5);
            double meanTerm = 0;
            for (int e = 0; e < size; e++) meanTerm += mask[e] * -2 * (x[e] - mean) / count;
            for (int e = 0; e < size; e++) gradMean += -gradY[e] / sigma;
            gradMean += gradVariance * meanTerm;
            for (int e = 0; e < size; e++)
                gradLayers[l * size + e] = gradY[e] / sigma + mask[e] * (gradVariance * 2 * (x[e] - mean) / count + gradMean / count);
        }
        double dot = w.Zip(gradWeights, (a, b) => a * b).Sum();
        var gradScalars = w.Select((wl, l) => wl * (gradWeights[l] - dot)).ToArray();
        return (gradLayers, gradScalars, gradGamma);
    }
}
