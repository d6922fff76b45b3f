namespace IlgpuElmo.Tests.Reference;

/// <summary>
/// bilm-tf's char CNN in plain float64, forward and backward, written from the equations:
/// embed, per filter group conv + bias, max over positions (first max), activation, concat,
/// highway layers (t = sigmoid(x Wc + bc), y = t relu(x Wt + bt) + (1 - t) x), projection.
/// Weights use the stored layouts: conv [w, d, n] as (j*d + e)*n + f, matrices [in, out].
/// </summary>
public sealed class ReferenceCharCnn
{
    public const int L = 50;
    public readonly int D, F, P;
    public readonly (int Width, int Count)[] Filters;
    public readonly bool Tanh, Project;
    public double[] Embed;
    public double[][] ConvW, ConvB;
    public double[][] CarryW, CarryB, TransformW, TransformB;
    public double[] ProjW = [], ProjB = [];

    // Saved by Forward.
    int n;
    int[] ids = [];
    double[] x0 = [];
    int[] argmax = [];
    double[][] xs = [], gates = [], transformPre = [];

    public ReferenceCharCnn(int d, (int, int)[] filters, int highways, int p, bool tanh, Func<int, double[]> values)
    {
        D = d; Filters = filters; P = p; Tanh = tanh;
        F = filters.Sum(f => f.Item2);
        Project = F != P;
        Embed = values(262 * d);
        Array.Clear(Embed, 0, d);
        ConvW = filters.Select(f => values(f.Item1 * d * f.Item2)).ToArray();
        ConvB = filters.Select(f => values(f.Item2)).ToArray();
        CarryW = Enumerable.Range(0, highways).Select(_ => values(F * F)).ToArray();
        CarryB = Enumerable.Range(0, highways).Select(_ => values(F)).ToArray();
        TransformW = Enumerable.Range(0, highways).Select(_ => values(F * F)).ToArray();
        TransformB = Enumerable.Range(0, highways).Select(_ => values(F)).ToArray();
        if (Project)
        {
            ProjW = values(F * P);
            ProjB = values(P);
        }
    }

    /// <summary>Every parameter array, in the encoder's Parameters order (char_embed, W_cnn_k, b_cnn_k, highways, proj).</summary>
    public IEnumerable<double[]> All()
    {
        yield return Embed;
        foreach (var w in ConvW) yield return w;
        foreach (var b in ConvB) yield return b;
        for (int i = 0; i < CarryW.Length; i++)
        {
            yield return CarryW[i]; yield return CarryB[i]; yield return TransformW[i]; yield return TransformB[i];
        }
        if (Project) { yield return ProjW; yield return ProjB; }
    }

    public double[] Forward(int[] charIds, int tokens)
    {
        n = tokens;
        ids = charIds;
        x0 = new double[n * F];
        argmax = new int[n * F];
        int offset = 0;
        for (int k = 0; k < Filters.Length; k++)
        {
            var (w, count) = Filters[k];
            for (int tok = 0; tok < n; tok++)
                for (int f = 0; f < count; f++)
                {
                    double best = double.NegativeInfinity;
                    int bestT = 0;
                    for (int t = 0; t + w <= L; t++)
                    {
                        double sum = 0;
                        for (int j = 0; j < w; j++)
                            for (int e = 0; e < D; e++)
                                sum += Embed[ids[tok * L + t + j] * D + e] * ConvW[k][(j * D + e) * count + f];
                        if (sum > best) { best = sum; bestT = t; }
                    }
                    double pre = best + ConvB[k][f];
                    x0[tok * F + offset + f] = Tanh ? Math.Tanh(pre) : Math.Max(pre, 0);
                    argmax[tok * F + offset + f] = bestT;
                }
            offset += count;
        }
        int h = CarryW.Length;
        xs = new double[h + 1][];
        gates = new double[h][];
        transformPre = new double[h][];
        xs[0] = x0;
        for (int i = 0; i < h; i++)
        {
            var c = MatMul(xs[i], CarryW[i], n, F, F);
            var tp = MatMul(xs[i], TransformW[i], n, F, F);
            gates[i] = new double[n * F];
            transformPre[i] = new double[n * F];
            xs[i + 1] = new double[n * F];
            for (int q = 0; q < n * F; q++)
            {
                double g = 1 / (1 + Math.Exp(-(c[q] + CarryB[i][q % F])));
                double pre = tp[q] + TransformB[i][q % F];
                gates[i][q] = g;
                transformPre[i][q] = pre;
                xs[i + 1][q] = g * Math.Max(pre, 0) + (1 - g) * xs[i][q];
            }
        }
        if (!Project) return (double[])xs[h].Clone();
        var output = MatMul(xs[h], ProjW, n, F, P);
        for (int q = 0; q < n * P; q++) output[q] += ProjB[q % P];
        return output;
    }

    /// <summary>Gradients of sum(output * gradOutput), in the order of <see cref="All"/>.</summary>
    public List<double[]> Backward(double[] gradOutput)
    {
        int h = CarryW.Length;
        var grads = All().Select(a => new double[a.Length]).ToList();
        int at = 1 + 2 * Filters.Length;
        double[] g;
        if (Project)
        {
            var gw = grads[at + 4 * h];
            var gb = grads[at + 4 * h + 1];
            for (int tok = 0; tok < n; tok++)
                for (int o = 0; o < P; o++)
                {
                    gb[o] += gradOutput[tok * P + o];
                    for (int i = 0; i < F; i++) gw[i * P + o] += xs[h][tok * F + i] * gradOutput[tok * P + o];
                }
            g = new double[n * F];
            for (int tok = 0; tok < n; tok++)
                for (int i = 0; i < F; i++)
                    for (int o = 0; o < P; o++) g[tok * F + i] += gradOutput[tok * P + o] * ProjW[i * P + o];
        }
        else g = (double[])gradOutput.Clone();

        for (int i = h - 1; i >= 0; i--)
        {
            var x = xs[i];
            var dc = new double[n * F];
            var dt = new double[n * F];
            var dx = new double[n * F];
            for (int q = 0; q < n * F; q++)
            {
                double gate = gates[i][q], tr = Math.Max(transformPre[i][q], 0);
                dc[q] = g[q] * (tr - x[q]) * gate * (1 - gate);
                dt[q] = transformPre[i][q] > 0 ? g[q] * gate : 0;
                dx[q] = g[q] * (1 - gate);
            }
            var gcw = grads[at + 4 * i]; var gcb = grads[at + 4 * i + 1];
            var gtw = grads[at + 4 * i + 2]; var gtb = grads[at + 4 * i + 3];
            for (int tok = 0; tok < n; tok++)
                for (int a = 0; a < F; a++)
                {
                    gcb[a] += dc[tok * F + a];
                    gtb[a] += dt[tok * F + a];
                    for (int b = 0; b < F; b++)
                    {
                        gcw[b * F + a] += x[tok * F + b] * dc[tok * F + a];
                        gtw[b * F + a] += x[tok * F + b] * dt[tok * F + a];
                        dx[tok * F + b] += dc[tok * F + a] * CarryW[i][b * F + a] + dt[tok * F + a] * TransformW[i][b * F + a];
                    }
                }
            g = dx;
        }

        int offset = 0;
        for (int k = 0; k < Filters.Length; k++)
        {
            var (w, count) = Filters[k];
            var gw = grads[1 + k];
            var gb = grads[1 + Filters.Length + k];
            for (int tok = 0; tok < n; tok++)
                for (int f = 0; f < count; f++)
                {
                    int q = tok * F + offset + f;
                    double y = x0[q];
                    double pre = Tanh ? g[q] * (1 - y * y) : (y > 0 ? g[q] : 0);
                    gb[f] += pre;
                    for (int j = 0; j < w; j++)
                    {
                        int c = ids[tok * L + argmax[q] + j];
                        for (int e = 0; e < D; e++)
                        {
                            gw[(j * D + e) * count + f] += Embed[c * D + e] * pre;
                            if (c != 0) grads[0][c * D + e] += ConvW[k][(j * D + e) * count + f] * pre;
                        }
                    }
                }
            offset += count;
        }
        return grads;
    }

    static double[] MatMul(double[] a, double[] b, int m, int k, int cols)
    {
        var c = new double[m * cols];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                for (int j = 0; j < cols; j++) c[i * cols + j] += a[i * k + p] * b[p * cols + j];
        return c;
    }
}
