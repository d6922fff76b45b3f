namespace IlgpuElmo.Tests.Reference;

/// <summary>
/// The float64 LSTM reference's explicit backward against central finite differences of its own forward,
/// with clips that engage, ragged lengths (one empty row), initial states and final-state gradients.
/// </summary>
public class ReferenceLstmTests
{
    const double Epsilon = 1e-6;

    static double[] Doubles(float[] values) => values.Select(v => (double)v).ToArray();
    static double Dot(double[] a, double[] b) => a.Select((v, i) => v * b[i]).Sum();

    static void AssertDerivative(double analytic, Func<double> lossPlus, Func<double> lossMinus, string what)
    {
        double numeric = (lossPlus() - lossMinus()) / (2 * Epsilon);
        Assert.True(Math.Abs(numeric - analytic) <= 1e-6 + 1e-5 * Math.Abs(numeric),
            $"{what}: finite difference {numeric:G10}, backward {analytic:G10}");
    }

    /// <summary>Central difference of loss() in one element of array a.</summary>
    static void CheckElement(double[] a, int index, double analytic, Func<double> loss, string what)
    {
        double saved = a[index];
        AssertDerivative(analytic, () => { a[index] = saved + Epsilon; return loss(); }, () => { a[index] = saved - Epsilon; return loss(); }, what);
        a[index] = saved;
    }

    [Fact]
    public void LayerBackwardMatchesFiniteDifferences()
    {
        var random = new Random(31);
        int steps = 5, batch = 3, input = 4, hidden = 6, projection = 3;
        int[] lengths = [5, 2, 0];
        var layer = new ReferenceLstmLayer(input, hidden, projection, cellClip: 0.8, projectionClip: 0.4, forgetBias: 1.0);
        layer.Randomize(random, 0.6f, 0.5f);
        var x = Doubles(TestData.Random(random, steps * batch * input, 2f));
        var h0 = Doubles(TestData.Random(random, batch * projection, 0.3f));
        var c0 = Doubles(TestData.Random(random, batch * hidden, 1f));
        var wy = Doubles(TestData.Random(random, steps * batch * projection));
        var wh = Doubles(TestData.Random(random, batch * projection));
        var wc = Doubles(TestData.Random(random, batch * hidden));

        double Loss()
        {
            var (y, hT, cT, _) = layer.Forward(x, steps, batch, lengths, h0, c0);
            return Dot(wy, y) + Dot(wh, hT) + Dot(wc, cT);
        }

        var (_, _, _, cache) = layer.Forward(x, steps, batch, lengths, h0, c0);
        Assert.True(layer.CellClips > 0 && layer.ProjectionClips > 0, "the clips should engage");
        var g = layer.Backward(cache, wy, wh, wc);
        int g4 = 4 * hidden;
        foreach (int gate in new[] { 0, 1, 2, 3 })
        {
            int column = gate * hidden + 2;
            CheckElement(layer.W, 1 * g4 + column, g.W[1 * g4 + column], Loss, $"W_x gate {gate}");
            CheckElement(layer.W, (input + 2) * g4 + column, g.W[(input + 2) * g4 + column], Loss, $"W_h gate {gate}");
            CheckElement(layer.B, column, g.B[column], Loss, $"B gate {gate}");
        }
        foreach (int i in new[] { 0, 7, 17 }) CheckElement(layer.Wp, i, g.Wp[i], Loss, $"W_p[{i}]");
        foreach (int i in new[] { 0, 13, 30, 59 }) CheckElement(x, i, g.X[i], Loss, $"x[{i}]");
        foreach (int i in new[] { 0, 4, 8 }) CheckElement(h0, i, g.H0[i], Loss, $"h0[{i}]");
        foreach (int i in new[] { 1, 8, 15 }) CheckElement(c0, i, g.C0[i], Loss, $"c0[{i}]");
        Assert.All(g.X.Skip(1 * batch * input + 2 * input).Take(input), v => Assert.Equal(0, v)); // empty row: no input gradient
    }

    [Fact]
    public void StackBackwardMatchesFiniteDifferences()
    {
        var random = new Random(32);
        int steps = 4, batch = 3, input = 3, hidden = 5, projection = 3;
        int[] lengths = [4, 1, 3];
        var layers = Enumerable.Range(0, 2).Select(k =>
        {
            var l = new ReferenceLstmLayer(k == 0 ? input : projection, hidden, projection, 0.8, 0.5, 1.0);
            l.Randomize(random, 0.6f, 0.5f);
            return l;
        }).ToArray();
        var stack = new ReferenceLstmStack(direction: 1, layers, skip: true);
        var x = Doubles(TestData.Random(random, steps * batch * input, 2f));
        var wy = Enumerable.Range(0, 2).Select(_ => Doubles(TestData.Random(random, steps * batch * projection))).ToArray();
        var wh = Enumerable.Range(0, 2).Select(_ => Doubles(TestData.Random(random, batch * projection))).ToArray();

        double Loss()
        {
            var (outputs, hT, _, _) = stack.Forward(x, steps, batch, lengths, dropout: 0.3f, seed: 5);
            return Enumerable.Range(0, 2).Sum(k => Dot(wy[k], outputs[k]) + Dot(wh[k], hT[k]));
        }

        var (_, _, _, cache) = stack.Forward(x, steps, batch, lengths, dropout: 0.3f, seed: 5);
        var g = stack.Backward(cache, wy, wh);
        foreach (int i in new[] { 0, 5, 10, 20, 33 }) CheckElement(x, i, g.X[i], Loss, $"x[{i}]");
        int g4 = 4 * hidden;
        foreach (int layer in new[] { 0, 1 })
        {
            CheckElement(layers[layer].W, 1 * g4 + 7, g.Layers[layer].W[1 * g4 + 7], Loss, $"layer {layer} W");
            CheckElement(layers[layer].B, 12, g.Layers[layer].B[12], Loss, $"layer {layer} B");
            CheckElement(layers[layer].Wp, 4, g.Layers[layer].Wp[4], Loss, $"layer {layer} W_p");
        }
    }
}
