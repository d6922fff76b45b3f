using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Reference;

/// <summary>
/// Plain float64 LSTM-with-projection layer (TensorFlow's LSTMCell with num_proj, cell_clip, proj_clip;
/// gates i, j, f, o; forget bias added at run time), time-major [T, B, D], with per-row lengths and its
/// own explicit backward. Clip 0 = none; a clip passes no gradient where |x| &gt; clip.
/// </summary>
public sealed class ReferenceLstmLayer(int inputSize, int hidden, int projection, double cellClip, double projectionClip, double forgetBias)
{
    public int In { get; } = inputSize;
    public int H { get; } = hidden;
    public int P { get; } = projection;

    /// <summary>W_0 [In + P, 4H]: rows of x, then rows of h_{t-1}.</summary>
    public double[] W { get; set; } = new double[(inputSize + projection) * 4 * hidden];

    /// <summary>B [4H].</summary>
    public double[] B { get; set; } = new double[4 * hidden];

    /// <summary>W_P_0 [H, P].</summary>
    public double[] Wp { get; set; } = new double[hidden * projection];

    /// <summary>How many cell and projection values the last Forward clipped (tests check the clips engage).</summary>
    public int CellClips { get; private set; }
    public int ProjectionClips { get; private set; }

    public sealed class Cache
    {
        public int T, Bt;
        public required double[] X;
        public required int[] Lengths;
        public required double[][] Hs, Cs;          // [T + 1][B * P], [T + 1][B * H]
        public required double[][] Act, CRaw, M, HRaw; // [T][B * 4H], [T][B * H], [T][B * H], [T][B * P]
    }

    public sealed record Gradients(double[] X, double[] H0, double[] C0, double[] W, double[] B, double[] Wp);

    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    static double Clip(double x, double clip) => clip > 0 ? Math.Clamp(x, -clip, clip) : x;
    public static bool Clipped(double x, double clip) => clip > 0 && Math.Abs(x) > clip;

    /// <summary>One (b, k) of the cell step: the gates' activations from their pre-activations (bias included, the
    /// forget bias added here), c_t before and after its clip, and m_t = o tanh(c_t).</summary>
    public static (double I, double J, double F, double O, double BeforeClip, double C, double M) Cell(double zi, double zj, double zf, double zo,
        double cPrevious, double forgetBias, double cellClip)
    {
        double i = Sigmoid(zi), j = Math.Tanh(zj), f = Sigmoid(zf + forgetBias), o = Sigmoid(zo);
        double raw = f * cPrevious + i * j;
        double c = Clip(raw, cellClip);
        return (i, j, f, o, raw, c, o * Math.Tanh(c));
    }

    /// <summary>Backward of <see cref="Cell"/> from its activations, c_{t-1}, c_t before and after the clip, dL/dm_t and the carried
    /// dL/dc_t: dL/d(pre-activations) i, j, f, o and dL/dc_{t-1}.</summary>
    public static (double I, double J, double F, double O, double CPrevious) CellBackward(double i, double j, double f, double o, double cPrevious,
        double beforeClip, double c, double dm, double dc, double cellClip)
    {
        double tc = Math.Tanh(c);
        double d = dc + dm * o * (1 - tc * tc);
        if (Clipped(beforeClip, cellClip)) d = 0;
        return (d * j * i * (1 - i), d * i * (1 - j * j), d * cPrevious * f * (1 - f), dm * tc * o * (1 - o), d * f);
    }

    public (double[] Y, double[] HT, double[] CT, Cache Cache) Forward(double[] x, int steps, int batch, int[] lengths, double[]? h0 = null, double[]? c0 = null)
    {
        int g4 = 4 * H;
        var cache = new Cache
        {
            T = steps, Bt = batch, X = x, Lengths = lengths,
            Hs = new double[steps + 1][], Cs = new double[steps + 1][],
            Act = new double[steps][], CRaw = new double[steps][], M = new double[steps][], HRaw = new double[steps][],
        };
        cache.Hs[0] = h0 is null ? new double[batch * P] : (double[])h0.Clone();
        cache.Cs[0] = c0 is null ? new double[batch * H] : (double[])c0.Clone();
        var y = new double[steps * batch * P];
        CellClips = ProjectionClips = 0;
        for (int t = 0; t < steps; t++)
        {
            var hPrev = cache.Hs[t];
            var cPrev = cache.Cs[t];
            var act = new double[batch * g4];
            var cRaw = new double[batch * H];
            var m = new double[batch * H];
            var hRaw = new double[batch * P];
            var hNext = (double[])hPrev.Clone();
            var cNext = (double[])cPrev.Clone();
            for (int b = 0; b < batch; b++)
            {
                if (t >= lengths[b]) continue;
                var pre = new double[g4];
                for (int g = 0; g < g4; g++)
                {
                    pre[g] = B[g];
                    for (int i = 0; i < In; i++) pre[g] += x[(t * batch + b) * In + i] * W[i * g4 + g];
                    for (int i = 0; i < P; i++) pre[g] += hPrev[b * P + i] * W[(In + i) * g4 + g];
                }
                for (int k = 0; k < H; k++)
                {
                    var cell = Cell(pre[k], pre[H + k], pre[2 * H + k], pre[3 * H + k], cPrev[b * H + k], forgetBias, cellClip);
                    (act[b * g4 + k], act[b * g4 + H + k], act[b * g4 + 2 * H + k], act[b * g4 + 3 * H + k]) = (cell.I, cell.J, cell.F, cell.O);
                    cRaw[b * H + k] = cell.BeforeClip;
                    if (Clipped(cell.BeforeClip, cellClip)) CellClips++;
                    cNext[b * H + k] = cell.C;
                    m[b * H + k] = cell.M;
                }
                for (int q = 0; q < P; q++)
                {
                    double z = 0;
                    for (int k = 0; k < H; k++) z += m[b * H + k] * Wp[k * P + q];
                    hRaw[b * P + q] = z;
                    if (Clipped(z, projectionClip)) ProjectionClips++;
                    hNext[b * P + q] = Clip(z, projectionClip);
                    y[(t * batch + b) * P + q] = hNext[b * P + q];
                }
            }
            cache.Hs[t + 1] = hNext;
            cache.Cs[t + 1] = cNext;
            cache.Act[t] = act;
            cache.CRaw[t] = cRaw;
            cache.M[t] = m;
            cache.HRaw[t] = hRaw;
        }
        return (y, cache.Hs[steps], cache.Cs[steps], cache);
    }

    /// <summary>dL/d(everything) given dL/dy [T, B, P] and dL/d(final h, c) (null: zeros).</summary>
    public Gradients Backward(Cache cache, double[] dy, double[]? dhT = null, double[]? dcT = null)
    {
        int steps = cache.T, batch = cache.Bt, g4 = 4 * H;
        var dx = new double[steps * batch * In];
        var dW = new double[W.Length];
        var dB = new double[B.Length];
        var dWp = new double[Wp.Length];
        var dh = dhT is null ? new double[batch * P] : (double[])dhT.Clone();
        var dc = dcT is null ? new double[batch * H] : (double[])dcT.Clone();
        for (int t = steps - 1; t >= 0; t--)
        {
            var act = cache.Act[t];
            var hPrev = cache.Hs[t];
            var cPrev = cache.Cs[t];
            var dhPrev = (double[])dh.Clone();
            var dcPrev = (double[])dc.Clone();
            for (int b = 0; b < batch; b++)
            {
                if (t >= cache.Lengths[b]) continue; // state passed through: gradients carry unchanged
                var dHRaw = new double[P];
                for (int q = 0; q < P; q++)
                {
                    double g = dy[(t * batch + b) * P + q] + dh[b * P + q];
                    dHRaw[q] = Clipped(cache.HRaw[t][b * P + q], projectionClip) ? 0 : g;
                }
                var dz = new double[g4];
                for (int k = 0; k < H; k++)
                {
                    double dm = 0;
                    for (int q = 0; q < P; q++)
                    {
                        dm += dHRaw[q] * Wp[k * P + q];
                        dWp[k * P + q] += cache.M[t][b * H + k] * dHRaw[q];
                    }
                    var g = CellBackward(act[b * g4 + k], act[b * g4 + H + k], act[b * g4 + 2 * H + k], act[b * g4 + 3 * H + k], cPrev[b * H + k],
                        cache.CRaw[t][b * H + k], cache.Cs[t + 1][b * H + k], dm, dc[b * H + k], cellClip);
                    (dz[k], dz[H + k], dz[2 * H + k], dz[3 * H + k]) = (g.I, g.J, g.F, g.O);
                    dcPrev[b * H + k] = g.CPrevious;
                }
                for (int g = 0; g < g4; g++)
                {
                    dB[g] += dz[g];
                    for (int i = 0; i < In; i++)
                    {
                        dW[i * g4 + g] += cache.X[(t * batch + b) * In + i] * dz[g];
                        dx[(t * batch + b) * In + i] += W[i * g4 + g] * dz[g];
                    }
                }
                for (int i = 0; i < P; i++)
                {
                    double sum = 0;
                    for (int g = 0; g < g4; g++)
                    {
                        dW[(In + i) * g4 + g] += hPrev[b * P + i] * dz[g];
                        sum += W[(In + i) * g4 + g] * dz[g];
                    }
                    dhPrev[b * P + i] = sum;
                }
            }
            dh = dhPrev;
            dc = dcPrev;
        }
        return new Gradients(dx, dh, dc, dW, dB, dWp);
    }

    /// <summary>Float32 parameters from uniform random values: W and W_p scaled by <paramref name="weightScale"/>.</summary>
    public void Randomize(Random random, float weightScale, float biasScale)
    {
        W = TestData.Random(random, W.Length, weightScale).Select(v => (double)v).ToArray();
        B = TestData.Random(random, B.Length, biasScale).Select(v => (double)v).ToArray();
        Wp = TestData.Random(random, Wp.Length, weightScale).Select(v => (double)v).ToArray();
    }
}

/// <summary>
/// Plain float64 stack of <see cref="ReferenceLstmLayer"/>s for one direction, with skip connections,
/// inverted dropout drawn from the same counter RNG as the kernels, and (direction 1) reversal within
/// each row's length; explicit backward.
/// </summary>
public sealed class ReferenceLstmStack(int direction, IReadOnlyList<ReferenceLstmLayer> layers, bool skip)
{
    public IReadOnlyList<ReferenceLstmLayer> Layers { get; } = layers;

    public sealed class Cache
    {
        public int T, Bt;
        public required int[] Lengths;
        public required ReferenceLstmLayer.Cache[] LayerCaches;
        public required double[]?[] Masks; // per layer: dropout multiplier per input element (null: no dropout)
    }

    public sealed record Gradients(double[] X, double[][] H0, double[][] C0, ReferenceLstmLayer.Gradients[] Layers);

    /// <summary>dst[t, b] = src[len_b - 1 - t, b] for t &lt; len_b, else 0.</summary>
    public static double[] Reverse(double[] src, int steps, int batch, int dim, int[] lengths)
    {
        var dst = new double[src.Length];
        for (int t = 0; t < steps; t++)
            for (int b = 0; b < batch; b++)
                if (t < lengths[b])
                    Array.Copy(src, ((lengths[b] - 1 - t) * batch + b) * dim, dst, (t * batch + b) * dim, dim);
        return dst;
    }

    /// <summary>The kernels' dropout multiplier (0 or 1/(1-rate) in float32) for elements [offset, offset + n).</summary>
    public static double[] DropoutMask(int n, float rate, ulong seed, long offset)
    {
        var p = DropoutParams.Create(rate, seed, offset);
        var mask = new double[n];
        for (int i = 0; i < n; i++)
            mask[i] = CounterRandom.Uniform(seed, (ulong)(offset + i)) >= rate ? p.Scale : 0;
        return mask;
    }

    public (double[][] Outputs, double[][] HT, double[][] CT, Cache Cache) Forward(double[] x, int steps, int batch, int[] lengths,
        double[][]? h0 = null, double[][]? c0 = null, float dropout = 0, ulong seed = 0)
    {
        int n = Layers.Count;
        var cache = new Cache { T = steps, Bt = batch, Lengths = lengths, LayerCaches = new ReferenceLstmLayer.Cache[n], Masks = new double[]?[n] };
        var outputs = new double[n][];
        var hT = new double[n][];
        var cT = new double[n][];
        var source = direction == 1 ? Reverse(x, steps, batch, Layers[0].In, lengths) : x;
        long offset = 0;
        for (int k = 0; k < n; k++)
        {
            var input = source;
            if (dropout > 0)
            {
                cache.Masks[k] = DropoutMask(source.Length, dropout, seed, offset);
                offset += source.Length;
                input = source.Select((v, i) => v * cache.Masks[k]![i]).ToArray();
            }
            var (y, h, c, layerCache) = Layers[k].Forward(input, steps, batch, lengths, h0?[k], c0?[k]);
            if (skip && k > 0) y = y.Select((v, i) => v + input[i]).ToArray();
            cache.LayerCaches[k] = layerCache;
            outputs[k] = y;
            hT[k] = h;
            cT[k] = c;
            source = y;
        }
        if (direction == 1)
            for (int k = 0; k < n; k++) outputs[k] = Reverse(outputs[k], steps, batch, Layers[k].P, lengths);
        return (outputs, hT, cT, cache);
    }

    /// <summary>dY per layer (input time order; null: zeros), dL/d(final states) per layer (null: zeros).</summary>
    public Gradients Backward(Cache cache, double[]?[] dY, double[][]? dhT = null, double[][]? dcT = null)
    {
        int n = Layers.Count, steps = cache.T, batch = cache.Bt;
        var external = dY.Select((g, k) => g is null ? null : direction == 1 ? Reverse(g, steps, batch, Layers[k].P, cache.Lengths) : g).ToArray();
        var gradient = external[n - 1] ?? new double[steps * batch * Layers[n - 1].P];
        var layerGradients = new ReferenceLstmLayer.Gradients[n];
        var h0 = new double[n][];
        var c0 = new double[n][];
        double[] inputGradient = [];
        for (int k = n - 1; k >= 0; k--)
        {
            var g = Layers[k].Backward(cache.LayerCaches[k], gradient, dhT?[k], dcT?[k]);
            layerGradients[k] = g;
            h0[k] = g.H0;
            c0[k] = g.C0;
            inputGradient = (double[])g.X.Clone();
            if (skip && k > 0)
                for (int i = 0; i < inputGradient.Length; i++) inputGradient[i] += gradient[i];
            if (cache.Masks[k] is { } mask)
                for (int i = 0; i < inputGradient.Length; i++) inputGradient[i] *= mask[i];
            if (k > 0 && external[k - 1] is { } e)
                for (int i = 0; i < inputGradient.Length; i++) inputGradient[i] += e[i];
            gradient = inputGradient;
        }
        if (direction == 1) inputGradient = Reverse(inputGradient, steps, batch, Layers[0].In, cache.Lengths);
        return new Gradients(inputGradient, h0, c0, layerGradients);
    }
}
