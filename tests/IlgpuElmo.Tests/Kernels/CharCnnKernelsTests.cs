using IlgpuElmo.Kernels;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>Each char CNN kernel against a direct float64 evaluation of its formula, tiny shapes.</summary>
public class CharCnnKernelsTests
{
    // Nf = 11: on the host a vector of filters and a scalar tail.
    const int N = 3, L = 9, D = 2, W = 3, Nf = 11, Off = 1, F = 13;
    static readonly CharConvParams P = new(N, L, D, W, Nf, Off, F, CharCnnKernels.Relu);

    static int[] CharIds(Random random) => Enumerable.Range(0, N * L).Select(_ => random.Next(1, 7)).ToArray();

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void WindowsAndMaxPoolWithArgmax(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(50);
        int positions = L - W + 1;
        var ids = CharIds(random);
        var embed = TestData.Random(random, 7 * D);
        using var dIds = d.Upload<int>(ids, N, L);
        using var dEmbed = d.Upload<float>(embed, 7, D);
        using var windows = d.Upload<float>(TestData.Poison(N * positions * W * D), N * positions, W * D);
        k.Windows(d.Stream, P, dIds.View, dEmbed.View, windows.View);
        var expectedWindows = new float[N * positions * W * D];
        for (int tok = 0; tok < N; tok++)
            for (int t = 0; t < positions; t++)
                for (int j = 0; j < W; j++)
                    for (int e = 0; e < D; e++)
                        expectedWindows[((tok * positions + t) * W + j) * D + e] = embed[ids[tok * L + t + j] * D + e];
        Assert.Equal(expectedWindows, windows.ToArray(d.Stream));

        foreach (int activation in new[] { CharCnnKernels.Relu, CharCnnKernels.Tanh })
        {
            var conv = TestData.Random(random, N * positions * Nf);
            var bias = TestData.Random(random, Nf);
            using var dConv = d.Upload<float>(conv, N * positions, Nf);
            using var dBias = d.Upload<float>(bias, Nf);
            var outInit = TestData.Random(random, N * F);
            var argInit = Enumerable.Repeat(-7, N * F).ToArray();
            using var output = d.Upload<float>(outInit, N, F);
            using var argmax = d.Upload<int>(argInit, N, F);
            k.MaxPool(d.Stream, P with { Activation = activation }, dConv.View, dBias.View, output.View, argmax.View);
            var expected = outInit.Select(x => (double)x).ToArray();
            var expectedArg = argInit.ToArray();
            for (int tok = 0; tok < N; tok++)
                for (int f = 0; f < Nf; f++)
                {
                    int best = 0;
                    for (int t = 1; t < positions; t++)
                        if (conv[(tok * positions + t) * Nf + f] > conv[(tok * positions + best) * Nf + f]) best = t;
                    double pre = conv[(tok * positions + best) * Nf + f] + (double)bias[f];
                    expected[tok * F + Off + f] = activation == CharCnnKernels.Tanh ? Math.Tanh(pre) : Math.Max(pre, 0);
                    expectedArg[tok * F + Off + f] = best;
                }
            TestData.AssertClose(output.ToArray(d.Stream), expected, 1e-5, 1e-6, "max pool (columns outside the group untouched)");
            Assert.Equal(expectedArg, argmax.ToArray(d.Stream));
        }
    }

    /// <summary>
    /// Host execution's forward over each token's leading windows: on words as the char mapper writes them
    /// (beginning of word, characters, end of word, padding), a padding token (all 0) and a token with no
    /// trailing run, the row counts are min(s + 1, P) (s: where the trailing run of the last character starts),
    /// the compact windows are the dense windows' leading rows, and the max-pool over them gives MaxPool's
    /// outputs and argmax over all windows bit for bit (relu and tanh, ties at the repeated padding windows included).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void LeadingWindowsGiveTheMaxPoolOfAllWindows(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(58);
        const int tokens = 6, chars = 12, dim = 3, pad = 9, bow = 7, eow = 8, width = 3, filters = 11, total = 14, offset = 2;
        var ids = new int[tokens * chars];
        int[] lengths = [1, 3, 6, 9, 0, 10];
        for (int tok = 0; tok < tokens; tok++)
        {
            int length = lengths[tok];
            for (int c = 0; c < chars; c++)
                ids[tok * chars + c] = tok == 4 ? 0 : c == 0 ? bow : c <= length ? 1 + random.Next(6) : c == length + 1 ? eow : pad;
        }
        var p = new CharConvParams(tokens, chars, dim, width, filters, offset, total, CharCnnKernels.Relu);
        int positions = p.Positions, rowSize = width * dim;
        // Trailing run starts: token 0 "<bow> x <eow>" -> 3; token 4 (all 0) -> 0; token 5 fills all 12 (no padding) -> 11.
        int[] expectedCounts = [.. Enumerable.Range(0, tokens).Select(tok =>
        {
            int fill = ids[tok * chars + chars - 1], s = chars - 1;
            while (s > 0 && ids[tok * chars + s - 1] == fill) s--;
            return Math.Min(s + 1, positions);
        })];
        Assert.Equal(4, expectedCounts[0]);
        Assert.Equal(1, expectedCounts[4]);
        Assert.Equal(positions, expectedCounts[5]);

        var embed = TestData.Random(random, 10 * dim);
        using var dIds = d.Upload<int>(ids, tokens, chars);
        using var dEmbed = d.Upload<float>(embed, 10, dim);
        using var starts = d.Upload<int>(Enumerable.Repeat(-7, tokens + 1).ToArray(), tokens + 1);
        int rows = k.LeadingWindowRows(p, dIds.View, starts.View);
        var startValues = starts.ToArray(d.Stream);
        Assert.Equal(expectedCounts.Sum(), rows);
        for (int tok = 0; tok < tokens; tok++) Assert.Equal(expectedCounts[tok], startValues[tok + 1] - startValues[tok]);

        using var dense = d.Upload<float>(TestData.Poison(tokens * positions * rowSize), tokens * positions, rowSize);
        using var leading = d.Upload<float>(TestData.Poison(rows * rowSize), rows, rowSize);
        k.Windows(d.Stream, p, dIds.View, dEmbed.View, dense.View);
        k.LeadingWindows(d.Stream, p, dIds.View, dEmbed.View, starts.View, leading.View);
        var denseRows = dense.ToArray(d.Stream);
        var leadingRows = leading.ToArray(d.Stream);
        for (int tok = 0; tok < tokens; tok++)
            Assert.Equal(denseRows.AsSpan(tok * positions * rowSize, expectedCounts[tok] * rowSize).ToArray(),
                leadingRows.AsSpan(startValues[tok] * rowSize, expectedCounts[tok] * rowSize).ToArray());

        // A conv output of the windows (its values only matter through the max): equal windows give equal rows.
        var weights = TestData.Random(random, rowSize * filters);
        float[] Conv(float[] windowRows, int count)
        {
            var conv = new float[count * filters];
            for (int r = 0; r < count; r++)
                for (int f = 0; f < filters; f++)
                {
                    float sum = 0f;
                    for (int q = 0; q < rowSize; q++) sum += windowRows[r * rowSize + q] * weights[q * filters + f];
                    conv[r * filters + f] = sum;
                }
            return conv;
        }
        foreach (int activation in new[] { CharCnnKernels.Relu, CharCnnKernels.Tanh })
        {
            var bias = TestData.Random(random, filters);
            using var dBias = d.Upload<float>(bias, filters);
            using var denseConv = d.Upload<float>(Conv(denseRows, tokens * positions), tokens * positions, filters);
            using var leadingConv = d.Upload<float>(Conv(leadingRows, rows), rows, filters);
            var outInit = TestData.Random(random, tokens * total);
            using var denseOut = d.Upload<float>(outInit, tokens, total);
            using var denseArg = d.Upload<int>(Enumerable.Repeat(-7, tokens * total).ToArray(), tokens, total);
            using var leadingOut = d.Upload<float>(outInit, tokens, total);
            using var leadingArg = d.Upload<int>(Enumerable.Repeat(-7, tokens * total).ToArray(), tokens, total);
            var q = p with { Activation = activation };
            k.MaxPool(d.Stream, q, denseConv.View, dBias.View, denseOut.View, denseArg.View);
            k.MaxPoolLeading(d.Stream, q, starts.View, leadingConv.View, dBias.View, leadingOut.View, leadingArg.View);
            Assert.Equal(denseOut.ToArray(d.Stream), leadingOut.ToArray(d.Stream));
            Assert.Equal(denseArg.ToArray(d.Stream), leadingArg.ToArray(d.Stream));
        }
    }

    [Fact]
    public void MaxPoolTiesGoToTheFirstPosition()
    {
        var d = TestDevices.Host;
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var p = new CharConvParams(1, 4, 1, 2, 1, 0, 1, CharCnnKernels.Relu);
        using var conv = d.Upload<float>([0.5f, 2f, 2f], 3, 1);
        using var bias = d.Upload<float>([0f], 1);
        using var output = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(1, 1));
        using var argmax = d.Allocate<int>(new IlgpuElmo.Tensors.Shape(1, 1));
        k.MaxPool(d.Stream, p, conv.View, bias.View, output.View, argmax.View);
        Assert.Equal([1], argmax.ToArray(d.Stream));

        // The same tie in every one of 17 filters (a vector of them and a tail on the host).
        var wide = new CharConvParams(1, 4, 1, 2, 17, 0, 17, CharCnnKernels.Relu);
        float[] rows = [.. Enumerable.Repeat(0.5f, 17), .. Enumerable.Repeat(2f, 17), .. Enumerable.Repeat(2f, 17)];
        using var wideConv = d.Upload<float>(rows, 3, 17);
        using var wideBias = d.Upload<float>(new float[17], 17);
        using var wideOutput = d.Allocate<float>(new IlgpuElmo.Tensors.Shape(1, 17));
        using var wideArgmax = d.Allocate<int>(new IlgpuElmo.Tensors.Shape(1, 17));
        k.MaxPool(d.Stream, wide, wideConv.View, wideBias.View, wideOutput.View, wideArgmax.View);
        Assert.All(wideArgmax.ToArray(d.Stream), t => Assert.Equal(1, t));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ActivationBackward(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(51);
        var y = TestData.Random(random, N * F);
        var gradOut = TestData.Random(random, N * F);
        using var dY = d.Upload<float>(y, N, F);
        using var dGradOut = d.Upload<float>(gradOut, N, F);

        foreach (int activation in new[] { CharCnnKernels.Tanh, CharCnnKernels.Relu })
        {
            using var gradPre = d.Upload<float>(TestData.Poison(N * F), N, F);
            k.ActivationBackward(d.Stream, activation, dY.View, dGradOut.View, gradPre.View);
            var expectedPre = y.Select((v, i) => activation == CharCnnKernels.Tanh ? gradOut[i] * (1 - (double)v * v) : v > 0 ? gradOut[i] : 0.0).ToArray();
            TestData.AssertClose(gradPre.ToArray(d.Stream), expectedPre, 1e-6, 1e-7, "activation backward");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void MaxPoolBackwardRoutesEachFilterToItsArgmax(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(53);
        int positions = L - W + 1;
        var argmax = Enumerable.Range(0, N * F).Select(_ => random.Next(positions)).ToArray();
        var pre = TestData.Random(random, N * F);
        using var dArg = d.Upload<int>(argmax, N, F);
        using var dPre = d.Upload<float>(pre, N, F);
        using var gradConv = d.Upload<float>(TestData.Poison(N * positions * Nf), N * positions, Nf);
        k.MaxPoolBackward(d.Stream, P, dArg.View, dPre.View, gradConv.View);
        var expected = new float[N * positions * Nf];
        for (int tok = 0; tok < N; tok++)
            for (int f = 0; f < Nf; f++)
            {
                int at = tok * F + Off + f;
                expected[(tok * positions + argmax[at]) * Nf + f] = pre[at];
            }
        Assert.Equal(expected, gradConv.ToArray(d.Stream));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void WindowsBackwardAddsEachWindowOntoItsCharacters(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(54);
        int positions = L - W + 1;
        var gradWindows = TestData.Random(random, N * positions * W * D);
        var prior = TestData.Random(random, N * L * D);
        using var dGradWindows = d.Upload<float>(gradWindows, N * positions, W * D);
        using var gradEmbedded = d.Upload<float>(prior, N * L, D);
        k.WindowsBackward(d.Stream, P, dGradWindows.View, gradEmbedded.View);
        var expected = prior.Select(x => (double)x).ToArray();
        for (int tok = 0; tok < N; tok++)
            for (int t = 0; t < positions; t++)
                for (int j = 0; j < W; j++)
                    for (int e = 0; e < D; e++)
                        expected[(tok * L + t + j) * D + e] += gradWindows[((tok * positions + t) * W + j) * D + e];
        TestData.AssertClose(gradEmbedded.ToArray(d.Stream), expected, 1e-6, 1e-7, "embedded characters gradient");
    }

    /// <summary>
    /// The argmax-window backward (host execution's char CNN backward) against float64 evaluations of the dense
    /// route it replaces: dConv with each filter's gradient at its argmax row, dW += windows^T dConv and the windows
    /// of dConv W^T added back onto their characters. Gradients include zeros (relu's), outputs start from a prior
    /// gradient (both kernels add), and a second, larger shape splits the host's work between workers.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ArgmaxWindowGradientsMatchTheDenseBackward(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(57);
        foreach (var p in new[] { P, new CharConvParams(Tokens: 240, MaxChars: 12, EmbedDim: 8, Width: 4, Filters: 19, ColumnOffset: 2, TotalFilters: 23, CharCnnKernels.Relu) })
        {
            int positions = p.Positions, rowSize = p.Width * p.EmbedDim, cells = p.Tokens * p.TotalFilters;
            var ids = Enumerable.Range(0, p.Tokens * p.MaxChars).Select(_ => random.Next(1, 7)).ToArray();
            var embed = TestData.Random(random, 7 * p.EmbedDim);
            var argmax = Enumerable.Range(0, cells).Select(_ => random.Next(positions)).ToArray();
            var gradPre = TestData.Random(random, cells);
            for (int i = 0; i < cells; i += 3) gradPre[i] = 0f;
            var weight = TestData.Random(random, rowSize * p.Filters);
            var priorWeightGrad = TestData.Random(random, rowSize * p.Filters);
            var priorEmbedded = TestData.Random(random, p.Tokens * p.MaxChars * p.EmbedDim);
            using var dIds = d.Upload<int>(ids, p.Tokens, p.MaxChars);
            using var dEmbed = d.Upload<float>(embed, 7, p.EmbedDim);
            using var dArgmax = d.Upload<int>(argmax, p.Tokens, p.TotalFilters);
            using var dGradPre = d.Upload<float>(gradPre, p.Tokens, p.TotalFilters);
            using var dWeight = d.Upload<float>(weight, rowSize, p.Filters);
            using var weightGrad = d.Upload<float>(priorWeightGrad, rowSize, p.Filters);
            using var gradEmbedded = d.Upload<float>(priorEmbedded, p.Tokens * p.MaxChars, p.EmbedDim);
            k.ConvWeightGradient(d.Stream, p, dIds.View, dEmbed.View, dArgmax.View, dGradPre.View, weightGrad.View);
            k.ConvInputGradient(d.Stream, p, dArgmax.View, dGradPre.View, dWeight.View, gradEmbedded.View);

            var expectedWeight = priorWeightGrad.Select(x => (double)x).ToArray();
            var expectedEmbedded = priorEmbedded.Select(x => (double)x).ToArray();
            for (int tok = 0; tok < p.Tokens; tok++)
                for (int t = 0; t < positions; t++)
                    for (int f = 0; f < p.Filters; f++)
                    {
                        int at = tok * p.TotalFilters + p.ColumnOffset + f;
                        double dConv = argmax[at] == t ? gradPre[at] : 0.0;
                        for (int j = 0; j < p.Width; j++)
                            for (int e = 0; e < p.EmbedDim; e++)
                            {
                                int r = j * p.EmbedDim + e, c = tok * p.MaxChars + t + j;
                                expectedWeight[r * p.Filters + f] += embed[ids[c] * p.EmbedDim + e] * dConv;
                                expectedEmbedded[c * p.EmbedDim + e] += dConv * weight[r * p.Filters + f];
                            }
                    }
            TestData.AssertClose(weightGrad.ToArray(d.Stream), expectedWeight, 1e-5, 1e-5, $"conv weight gradient, {p.Tokens} tokens");
            TestData.AssertClose(gradEmbedded.ToArray(d.Stream), expectedEmbedded, 1e-5, 1e-5, $"embedded characters gradient, {p.Tokens} tokens");
        }
    }

    /// <summary>
    /// The embedding table's gradient, with words the way the char mapper writes them (beginning of word, a few
    /// characters, end of word, then padding) and a padding token (all ids 0): every real character's and the
    /// padding character's positions summed onto their rows (on top of a prior gradient), row 0 untouched,
    /// against float64; on a wider table than ids use, so untouched rows are checked too.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void EmbeddingGradientSumsEachRowsPositionsAndEachTokensPaddingOnce(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(56);
        const int tokens = 7, chars = 12, dim = 5, rows = 14, pad = 13, bow = 11, eow = 12;
        var ids = new int[tokens * chars];
        for (int tok = 0; tok < tokens - 1; tok++)
        {
            int length = 1 + random.Next(chars - 2);
            for (int c = 0; c < chars; c++)
                ids[tok * chars + c] = c == 0 ? bow : c <= length - 1 ? 1 + random.Next(10) : c == length ? eow : pad;
        }
        var p = new CharEmbeddingParams(tokens, chars, dim, pad);
        var gradient = TestData.Random(random, tokens * chars * dim);
        var prior = TestData.Random(random, rows * dim);
        Array.Clear(prior, 0, dim);
        using var dIds = d.Upload<int>(ids, tokens, chars);
        using var dGradient = d.Upload<float>(gradient, tokens * chars, dim);
        using var table = d.Upload<float>(prior, rows, dim);
        k.EmbeddingGradient(d.Stream, p, dIds.View, dGradient.View, table.View);
        var expected = prior.Select(x => (double)x).ToArray();
        for (int at = 0; at < ids.Length; at++)
            if (ids[at] != 0)
                for (int e = 0; e < dim; e++) expected[ids[at] * dim + e] += gradient[at * dim + e];
        Assert.True(ids.Count(id => id == pad) > ids.Length / 3, "premise: most positions are padding");
        var actual = table.ToArray(d.Stream);
        TestData.AssertClose(actual, expected, 1e-5, 1e-5, "char embedding gradient");
        Assert.Equal(new float[dim], actual[..dim]);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void HighwayForwardAndBackward(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new CharCnnKernels(rt));
        var random = new Random(52);
        int n = 3, f = 21, size = n * f; // rows of two vectors and a tail on the host
        float[] x = TestData.Random(random, size), c = TestData.Random(random, size), t = TestData.Random(random, size);
        float[] bc = TestData.Random(random, f), bt = TestData.Random(random, f), dy = TestData.Random(random, size);
        using DisposableViews v = new(d, x, c, t, bc, bt, size);
        k.HighwayForward(d.Stream, f, v.Views);
        var gate = new double[size]; var tr = new double[size]; var y = new double[size];
        for (int i = 0; i < size; i++)
        {
            gate[i] = 1 / (1 + Math.Exp(-((double)c[i] + bc[i % f])));
            tr[i] = Math.Max((double)t[i] + bt[i % f], 0);
            y[i] = gate[i] * tr[i] + (1 - gate[i]) * x[i];
        }
        TestData.AssertClose(v.Gate.ToArray(d.Stream), gate, 1e-5, 1e-6, "gate");
        TestData.AssertClose(v.Transform.ToArray(d.Stream), tr, 1e-5, 1e-6, "transform");
        TestData.AssertClose(v.Y.ToArray(d.Stream), y, 1e-5, 1e-6, "highway output");

        v.Y.CopyFrom(d.Stream, dy);
        using var gradX = d.Upload<float>(TestData.Poison(size), size);
        k.HighwayBackward(d.Stream, f, v.Views, gradX.View);
        var dc = new double[size]; var dt = new double[size]; var dx = new double[size];
        for (int i = 0; i < size; i++)
        {
            dc[i] = dy[i] * (tr[i] - x[i]) * gate[i] * (1 - gate[i]);
            dt[i] = tr[i] > 0 ? dy[i] * gate[i] : 0;
            dx[i] = dy[i] * (1 - gate[i]);
        }
        TestData.AssertClose(v.CarryPre.ToArray(d.Stream), dc, 1e-5, 1e-6, "carry pre-activation gradient");
        TestData.AssertClose(v.TransformPre.ToArray(d.Stream), dt, 1e-5, 1e-6, "transform pre-activation gradient");
        TestData.AssertClose(gradX.ToArray(d.Stream), dx, 1e-5, 1e-6, "direct input gradient");
    }

    sealed class DisposableViews : IDisposable
    {
        public readonly IlgpuElmo.Tensors.DeviceTensor<float> X, CarryPre, TransformPre, CarryBias, TransformBias, Gate, Transform, Y;

        public DisposableViews(ComputeDevice d, float[] x, float[] c, float[] t, float[] bc, float[] bt, int size)
        {
            X = d.Upload<float>(x, size); CarryPre = d.Upload<float>(c, size); TransformPre = d.Upload<float>(t, size);
            CarryBias = d.Upload<float>(bc, bc.Length); TransformBias = d.Upload<float>(bt, bt.Length);
            Gate = d.Upload<float>(TestData.Poison(size), size); Transform = d.Upload<float>(TestData.Poison(size), size);
            Y = d.Upload<float>(TestData.Poison(size), size);
        }

        public HighwayViews Views => new(X.View, CarryPre.View, TransformPre.View, CarryBias.View, TransformBias.View, Gate.View, Transform.View, Y.View);

        public void Dispose()
        {
            foreach (var t in new[] { X, CarryPre, TransformPre, CarryBias, TransformBias, Gate, Transform, Y }) t.Dispose();
        }
    }
}
