namespace IlgpuElmo.Tests.Reference;

/// <summary>
/// Plain float64 softmax heads: the full softmax, TensorFlow's sampled softmax (given the samples and
/// log expected counts) and torch's adaptive log-softmax, each returning the summed loss over rows with a
/// target >= 0 and lossScale times its gradients. Weights are [out, in] as in the heads.
/// </summary>
public static class ReferenceSoftmax
{
    public sealed record Result(double Loss, double[] GradHidden, double[] GradWeight, double[] GradBias);

    public static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();

    /// <summary>Log-softmax of one row of logits.</summary>
    static double[] LogSoftmax(double[] z)
    {
        double max = z.Max(), sum = 0;
        foreach (double x in z) sum += Math.Exp(x - max);
        double lse = max + Math.Log(sum);
        return z.Select(x => x - lse).ToArray();
    }

    /// <summary>x [rows, k] times w [classes, k] transposed, plus b, for one row.</summary>
    static double[] Logits(double[] x, int row, int k, double[] w, double[]? b, int classes)
    {
        var z = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            double sum = b?[c] ?? 0;
            for (int q = 0; q < k; q++) sum += x[row * k + q] * w[c * k + q];
            z[c] = sum;
        }
        return z;
    }

    /// <summary>Full softmax: loss and gradients for h [n, p], w [v, p], b [v] (or null).</summary>
    public static Result Full(double[] h, double[] w, double[]? b, int[] targets, int p, double scale)
    {
        int n = targets.Length, v = w.Length / p;
        var gh = new double[n * p];
        var gw = new double[v * p];
        var gb = new double[v];
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t < 0) continue;
            var lsm = LogSoftmax(Logits(h, r, p, w, b, v));
            loss -= lsm[t];
            for (int c = 0; c < v; c++)
            {
                double d = scale * (Math.Exp(lsm[c]) - (c == t ? 1 : 0));
                gb[c] += d;
                for (int q = 0; q < p; q++)
                {
                    gh[r * p + q] += d * w[c * p + q];
                    gw[c * p + q] += d * h[r * p + q];
                }
            }
        }
        return new Result(loss, gh, gw, gb);
    }

    /// <summary>Log-probabilities [n, v] of the full softmax.</summary>
    public static double[] FullLogProbs(double[] h, double[] w, double[]? b, int n, int p)
    {
        int v = w.Length / p;
        var result = new double[n * v];
        for (int r = 0; r < n; r++) LogSoftmax(Logits(h, r, p, w, b, v)).CopyTo(result, r * v);
        return result;
    }

    /// <summary>
    /// TensorFlow's sampled softmax for the given distinct sample ids: per row, logits of [target, samples]
    /// minus logQ, a sample equal to the target dropped, softmax cross-entropy with label 0. Gradients dense over [v, p].
    /// </summary>
    public static Result Sampled(double[] h, double[] w, double[] b, int[] targets, int p, int[] samples, Func<int, double> logQ, double scale)
    {
        int n = targets.Length, v = w.Length / p;
        var gh = new double[n * p];
        var gw = new double[v * p];
        var gb = new double[v];
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t < 0) continue;
            var classes = new List<int> { t };
            classes.AddRange(samples.Where(s => s != t));
            var z = classes.Select(c =>
            {
                double sum = b[c] - logQ(c);
                for (int q = 0; q < p; q++) sum += h[r * p + q] * w[c * p + q];
                return sum;
            }).ToArray();
            var lsm = LogSoftmax(z);
            loss -= lsm[0];
            for (int i = 0; i < classes.Count; i++)
            {
                int c = classes[i];
                double d = scale * (Math.Exp(lsm[i]) - (i == 0 ? 1 : 0));
                gb[c] += d;
                for (int q = 0; q < p; q++)
                {
                    gh[r * p + q] += d * w[c * p + q];
                    gw[c * p + q] += d * h[r * p + q];
                }
            }
        }
        return new Result(loss, gh, gw, gb);
    }

    /// <summary>torch.nn.AdaptiveLogSoftmaxWithLoss weights, [out, in]; Bounds = [c_0, ..., V].</summary>
    public sealed record AdaptiveWeights(int P, int[] Bounds, double[] HeadW, double[]? HeadB, double[][] Proj, double[][] Out)
    {
        public int HeadSize => Bounds[0] + Bounds.Length - 1;
        public int Features(int i) => Proj[i].Length / P;
    }

    public sealed record AdaptiveResult(double Loss, double[] GradHidden, double[] GradHeadW, double[]? GradHeadB, double[][] GradProj, double[][] GradOut);

    public static AdaptiveResult Adaptive(AdaptiveWeights a, double[] h, int[] targets, double scale)
    {
        int n = targets.Length, p = a.P, hs = a.HeadSize, c0 = a.Bounds[0];
        var gh = new double[n * p];
        var ghw = new double[a.HeadW.Length];
        var ghb = a.HeadB is null ? null : new double[hs];
        var gproj = a.Proj.Select(x => new double[x.Length]).ToArray();
        var gout = a.Out.Select(x => new double[x.Length]).ToArray();
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t < 0) continue;
            int cluster = -1;
            for (int i = 0; i < a.Bounds.Length - 1; i++)
                if (t >= a.Bounds[i] && t < a.Bounds[i + 1]) cluster = i;
            int headColumn = cluster < 0 ? t : c0 + cluster;
            var headLsm = LogSoftmax(Logits(h, r, p, a.HeadW, a.HeadB, hs));
            loss -= headLsm[headColumn];
            for (int c = 0; c < hs; c++)
            {
                double d = scale * (Math.Exp(headLsm[c]) - (c == headColumn ? 1 : 0));
                if (ghb is not null) ghb[c] += d;
                for (int q = 0; q < p; q++)
                {
                    gh[r * p + q] += d * a.HeadW[c * p + q];
                    ghw[c * p + q] += d * h[r * p + q];
                }
            }
            if (cluster < 0) continue;
            int f = a.Features(cluster), size = a.Bounds[cluster + 1] - a.Bounds[cluster], local = t - a.Bounds[cluster];
            var z = Logits(h, r, p, a.Proj[cluster], null, f);
            var lsm = LogSoftmax(Logits(z, 0, f, a.Out[cluster], null, size));
            loss -= lsm[local];
            var dz = new double[f];
            for (int c = 0; c < size; c++)
            {
                double d = scale * (Math.Exp(lsm[c]) - (c == local ? 1 : 0));
                for (int q = 0; q < f; q++)
                {
                    dz[q] += d * a.Out[cluster][c * f + q];
                    gout[cluster][c * f + q] += d * z[q];
                }
            }
            for (int q = 0; q < f; q++)
                for (int k = 0; k < p; k++)
                {
                    gproj[cluster][q * p + k] += dz[q] * h[r * p + k];
                    gh[r * p + k] += dz[q] * a.Proj[cluster][q * p + k];
                }
        }
        return new AdaptiveResult(loss, gh, ghw, ghb, gproj, gout);
    }

    /// <summary>Log-probabilities [n, V] of the adaptive softmax (torch's log_prob).</summary>
    public static double[] AdaptiveLogProbs(AdaptiveWeights a, double[] h, int n)
    {
        int p = a.P, v = a.Bounds[^1], c0 = a.Bounds[0];
        var result = new double[n * v];
        for (int r = 0; r < n; r++)
        {
            var headLsm = LogSoftmax(Logits(h, r, p, a.HeadW, a.HeadB, a.HeadSize));
            for (int c = 0; c < c0; c++) result[r * v + c] = headLsm[c];
            for (int i = 0; i < a.Bounds.Length - 1; i++)
            {
                int f = a.Features(i), size = a.Bounds[i + 1] - a.Bounds[i];
                var z = Logits(h, r, p, a.Proj[i], null, f);
                var lsm = LogSoftmax(Logits(z, 0, f, a.Out[i], null, size));
                for (int c = 0; c < size; c++) result[r * v + a.Bounds[i] + c] = headLsm[c0 + i] + lsm[c];
            }
        }
        return result;
    }

    /// <summary>Central difference of <paramref name="loss"/> in x[index] (x is perturbed and restored).</summary>
    public static double FiniteDifference(double[] x, int index, Func<double> loss, double eps = 1e-5)
    {
        double saved = x[index];
        x[index] = saved + eps;
        double up = loss();
        x[index] = saved - eps;
        double down = loss();
        x[index] = saved;
        return (up - down) / (2 * eps);
    }
}
