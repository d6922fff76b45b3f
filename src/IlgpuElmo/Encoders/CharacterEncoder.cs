using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Encoders;

/// <summary>
/// ELMo's character CNN token encoder, as bilm-tf builds it, for N tokens of 50 character ids:
/// <code>
/// e        = char_embed[ids]                                   [N, 50, d]
/// c_k      = act(max_t (conv_k(e)[t] + b_cnn_k))               [N, n_k]   per filter group k (width w_k)
/// x_0      = concat_k c_k                                      [N, F]     F = sum of n_k
/// t        = sigmoid(x_i W_carry + b_carry)                               per highway layer i
/// x_{i+1}  = t * relu(x_i W_transform + b_transform) + (1 - t) * x_i
/// output   = x_H W_proj + b_proj                               [N, P]     (x_H when F = P)
/// </code>
/// The convolution of group k is one GEMM: the windows [N*(50-w+1), w*d] times W_cnn_k read as
/// [w*d, n] (its stored layout [1, w, d, n]). Parameter names are bilm-tf's datasets: char_embed,
/// CNN/W_cnn_k, CNN/b_cnn_k, CNN_high_i/{W_carry, b_carry, W_transform, b_transform},
/// CNN_proj/{W_proj, b_proj}. char_embed has 262 rows here; row 0 (padding tokens) stays zero and gets
/// no gradient.
/// </summary>
public sealed class CharacterEncoder : ITokenEncoder, IDisposable
{
    readonly ComputeDevice device;
    readonly CharCnnKernels cnn;
    readonly ElementwiseKernels elementwise;
    readonly Workspace workspace;
    readonly List<Parameter> parameters = [];
    readonly int activation;
    // Saved by Forward for Backward: the ids, the pooled conv output x_0 and its argmax, each highway
    // layer's gate, transform and output (x_{i+1}).
    DeviceTensor<int>? savedIds;
    int savedTokens;

    /// <param name="projectionDim">The output width P (the biLM's lstm.projection_dim): the filters are projected to it when their total differs.</param>
    public CharacterEncoder(ComputeDevice device, CharCnnOptions options, int projectionDim)
    {
        options.Validate(projectionDim);
        this.device = device;
        Options = options;
        OutputSize = projectionDim;
        cnn = device.Kernels(rt => new CharCnnKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        activation = options.Activation == CharActivation.Tanh ? CharCnnKernels.Tanh : CharCnnKernels.Relu;

        int d = options.EmbeddingDim, f = options.NFilters;
        CharEmbed = Add("char_embed", CharacterMapper.TableRows, d);
        ConvWeights = options.Filters.Select((w, k) => Add($"CNN/W_cnn_{k}", 1, w.Width, d, w.Count)).ToArray();
        ConvBiases = options.Filters.Select((w, k) => Add($"CNN/b_cnn_{k}", w.Count)).ToArray();
        Highways = Enumerable.Range(0, options.NHighway).Select(i => new HighwayLayer(
            Add($"CNN_high_{i}/W_carry", f, f), Add($"CNN_high_{i}/b_carry", f),
            Add($"CNN_high_{i}/W_transform", f, f), Add($"CNN_high_{i}/b_transform", f))).ToArray();
        if (options.ProjectsTo(projectionDim))
        {
            ProjectionWeight = Add("CNN_proj/W_proj", f, projectionDim);
            ProjectionBias = Add("CNN_proj/b_proj", projectionDim);
        }
    }

    public CharCnnOptions Options { get; }
    public int OutputSize { get; }
    public IEnumerable<Parameter> Parameters => parameters;

    /// <summary>char_embed [262, d].</summary>
    public Parameter CharEmbed { get; }
    /// <summary>CNN/W_cnn_k [1, w_k, d, n_k].</summary>
    public IReadOnlyList<Parameter> ConvWeights { get; }
    /// <summary>CNN/b_cnn_k [n_k].</summary>
    public IReadOnlyList<Parameter> ConvBiases { get; }
    public IReadOnlyList<HighwayLayer> Highways { get; }
    /// <summary>CNN_proj/W_proj [F, P], or null when F = P.</summary>
    public Parameter? ProjectionWeight { get; }
    /// <summary>CNN_proj/b_proj [P], or null when F = P.</summary>
    public Parameter? ProjectionBias { get; }

    /// <summary>One highway layer's weights: W_carry, W_transform [F, F] (applied as x W), biases [F].</summary>
    public sealed record HighwayLayer(Parameter CarryWeight, Parameter CarryBias, Parameter TransformWeight, Parameter TransformBias);

    Parameter Add(string name, params int[] dims)
    {
        var p = Parameter.Create(device, name, new Shape(dims));
        parameters.Add(p);
        return p;
    }

    /// <summary>
    /// bilm-tf's initialisers: char_embed U(-1, 1) (row 0 zero); conv weights U(-0.05, 0.05) for relu,
    /// N(0, 1/(w d)) for tanh; highway weights N(0, 1/F), b_carry -2; W_proj N(0, 1/F); other biases 0.
    /// </summary>
    public void Initialize(int seed)
    {
        var random = new Random(seed);
        int d = Options.EmbeddingDim, f = Options.NFilters;
        var table = Fill(CharacterMapper.TableRows * d, () => random.NextDouble() * 2 - 1);
        Array.Clear(table, 0, d);
        Upload(CharEmbed, table);
        for (int k = 0; k < ConvWeights.Count; k++)
        {
            int width = Options.Filters[k].Width;
            Upload(ConvWeights[k], Fill((int)ConvWeights[k].Shape.Size, Options.Activation == CharActivation.Relu
                ? () => random.NextDouble() * 0.1 - 0.05
                : () => Normal(random) * Math.Sqrt(1.0 / (width * d))));
            Upload(ConvBiases[k], new float[ConvBiases[k].Shape.Size]);
        }
        foreach (var h in Highways)
        {
            Upload(h.CarryWeight, Fill(f * f, () => Normal(random) * Math.Sqrt(1.0 / f)));
            Upload(h.CarryBias, Fill(f, () => -2.0));
            Upload(h.TransformWeight, Fill(f * f, () => Normal(random) * Math.Sqrt(1.0 / f)));
            Upload(h.TransformBias, new float[f]);
        }
        if (ProjectionWeight is not null)
        {
            Upload(ProjectionWeight, Fill(f * OutputSize, () => Normal(random) * Math.Sqrt(1.0 / f)));
            Upload(ProjectionBias!, new float[OutputSize]);
        }
    }

    void Upload(Parameter p, float[] data) => p.Value.CopyFrom(device.Stream, data);

    static float[] Fill(int n, Func<double> next)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)next();
        return data;
    }

    static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>output [N, P] from character ids [N, 50] (from <see cref="CharacterMapper"/>: every id in 0..261).</summary>
    public void Forward(AcceleratorStream stream, DeviceTensor<int> ids, DeviceTensor<float> output)
    {
        int n = CheckIds(ids);
        int f = Options.NFilters;
        output.Expect("char CNN output", new Shape(n, OutputSize));
        var convOut = workspace.Get<float>("conv output x_0", n, f);
        var argmax = workspace.Get<int>("conv argmax", n, f);
        // Sized once for the largest group, so the loop never reallocates under queued work.
        var groups = Enumerable.Range(0, ConvWeights.Count).Select(k => GroupParams(k, n)).ToArray();
        var windowsBuffer = workspace.Get<float>("windows", (int)groups.Max(p => (long)n * p.Positions * p.Width * p.EmbedDim));
        var convBuffer = workspace.Get<float>("conv", (int)groups.Max(p => (long)n * p.Positions * p.Filters));
        var windowRowStarts = workspace.Get<int>("window row starts", n + 1);
        for (int k = 0; k < ConvWeights.Count; k++)
        {
            var p = groups[k];
            var weight = ConvWeights[k].Value.Reshape(p.Width * p.EmbedDim, p.Filters);
            if (device.RunsOnHost)
            {
                // Only each token's leading windows: the rest repeat its last one (its trailing padding), whose
                // conv output cannot change the max. Most of a short word's 47-50 windows; the same outputs bit for bit.
                int rows = cnn.LeadingWindowRows(p, ids.View, windowRowStarts.View);
                var leading = Tensor(windowsBuffer.View.SubView(0, (long)rows * p.Width * p.EmbedDim), rows, p.Width * p.EmbedDim);
                var leadingConv = Tensor(convBuffer.View.SubView(0, (long)rows * p.Filters), rows, p.Filters);
                cnn.LeadingWindows(stream, p, ids.View, CharEmbed.Value.View, windowRowStarts.View, leading.View);
                device.Gemm.Multiply(stream, leading, false, weight, false, leadingConv);
                cnn.MaxPoolLeading(stream, p, windowRowStarts.View, leadingConv.View, ConvBiases[k].Value.View, convOut.View, argmax.View);
                continue;
            }
            var windows = Tensor(windowsBuffer.View.SubView(0, (long)n * p.Positions * p.Width * p.EmbedDim), n * p.Positions, p.Width * p.EmbedDim);
            var conv = Tensor(convBuffer.View.SubView(0, (long)n * p.Positions * p.Filters), n * p.Positions, p.Filters);
            cnn.Windows(stream, p, ids.View, CharEmbed.Value.View, windows.View);
            device.Gemm.Multiply(stream, windows, false, weight, false, conv);
            cnn.MaxPool(stream, p, conv.View, ConvBiases[k].Value.View, convOut.View, argmax.View);
        }

        var x = convOut;
        for (int i = 0; i < Highways.Count; i++)
        {
            var v = HighwayBuffers(i, n, x);
            device.Gemm.Multiply(stream, x, false, Highways[i].CarryWeight.Value, false, Tensor(v.CarryPre, n, f));
            device.Gemm.Multiply(stream, x, false, Highways[i].TransformWeight.Value, false, Tensor(v.TransformPre, n, f));
            cnn.HighwayForward(stream, f, v);
            x = Tensor(v.Y, n, f);
        }

        if (ProjectionWeight is not null)
        {
            device.Gemm.Multiply(stream, x, false, ProjectionWeight.Value, false, output);
            elementwise.AddRowBias(stream, output.View, ProjectionBias!.Value.View);
        }
        else elementwise.Copy(stream, x.View, output.View);
        savedIds = ids;
        savedTokens = n;
    }

    /// <summary>Adds every parameter's gradient for gradOutput [N, P] of the last Forward.</summary>
    public void Backward(AcceleratorStream stream, DeviceTensor<float> gradOutput)
    {
        var ids = savedIds ?? throw new InvalidOperationException("Backward before Forward.");
        int n = savedTokens, f = Options.NFilters, d = Options.EmbeddingDim;
        gradOutput.Expect("char CNN output gradient", new Shape(n, OutputSize));
        var convOut = workspace.Get<float>("conv output x_0", n, f);
        var argmax = workspace.Get<int>("conv argmax", n, f);
        var grad = workspace.Get<float>("gradient a", n, f);
        var gradNext = workspace.Get<float>("gradient b", n, f);

        var x = Highways.Count == 0 ? convOut : workspace.Get<float>($"highway {Highways.Count - 1} output", n, f);
        if (ProjectionWeight is not null)
        {
            device.Gemm.Multiply(stream, x, true, gradOutput, false, ProjectionWeight.Gradient, beta: 1f);
            elementwise.ColumnSums(stream, gradOutput.View, n, ProjectionBias!.Gradient.View, beta: 1f);
            device.Gemm.Multiply(stream, gradOutput, false, ProjectionWeight.Value, true, grad);
        }
        else elementwise.Copy(stream, gradOutput.View, grad.View);

        for (int i = Highways.Count - 1; i >= 0; i--)
        {
            var input = i == 0 ? convOut : workspace.Get<float>($"highway {i - 1} output", n, f);
            var v = HighwayBuffers(i, n, input) with { Y = grad.View };
            cnn.HighwayBackward(stream, f, v, gradNext.View);
            var gradCarry = Tensor(v.CarryPre, n, f);
            var gradTransform = Tensor(v.TransformPre, n, f);
            var h = Highways[i];
            device.Gemm.Multiply(stream, input, true, gradCarry, false, h.CarryWeight.Gradient, beta: 1f);
            device.Gemm.Multiply(stream, input, true, gradTransform, false, h.TransformWeight.Gradient, beta: 1f);
            elementwise.ColumnSums(stream, gradCarry.View, n, h.CarryBias.Gradient.View, beta: 1f);
            elementwise.ColumnSums(stream, gradTransform.View, n, h.TransformBias.Gradient.View, beta: 1f);
            device.Gemm.Multiply(stream, gradCarry, false, h.CarryWeight.Value, true, gradNext, beta: 1f);
            device.Gemm.Multiply(stream, gradTransform, false, h.TransformWeight.Value, true, gradNext, beta: 1f);
            (grad, gradNext) = (gradNext, grad);
        }

        // grad is now d(x_0); through the activation, then each group's max-pool, conv GEMM and windows backward.
        var gradPre = gradNext;
        cnn.ActivationBackward(stream, activation, convOut.View, grad.View, gradPre.View);
        var biasGrad = workspace.Get<float>("conv bias gradient", f);
        elementwise.ColumnSums(stream, gradPre.View, n, biasGrad.View);
        var gradEmbedded = workspace.Get<float>("embedded characters gradient", n * CharacterMapper.MaxCharacters, d);
        gradEmbedded.Clear(stream);
        var groups = Enumerable.Range(0, ConvWeights.Count).Select(k => GroupParams(k, n)).ToArray();
        var windowsBuffer = workspace.Get<float>("windows", (int)groups.Max(p => (long)n * p.Positions * p.Width * p.EmbedDim));
        var convBuffer = workspace.Get<float>("conv", (int)groups.Max(p => (long)n * p.Positions * p.Filters));
        for (int k = 0; k < ConvWeights.Count; k++)
        {
            var p = groups[k];
            elementwise.Axpby(stream, 1f, biasGrad.View.SubView(p.ColumnOffset, p.Filters), 1f, ConvBiases[k].Gradient.View);
            var weight = ConvWeights[k];
            if (device.RunsOnHost)
            {
                // Each filter's gradient reaches one window per token: read those windows (1/P of the dense GEMMs'
                // work, no dense dConv). GPUs keep the dense GEMMs, whose tensor cores do the extra work faster than
                // a gather over the filters would.
                cnn.ConvWeightGradient(stream, p, ids.View, CharEmbed.Value.View, argmax.View, gradPre.View, weight.Gradient.View);
                cnn.ConvInputGradient(stream, p, argmax.View, gradPre.View, weight.Value.View, gradEmbedded.View);
                continue;
            }
            // The forward's windows are rebuilt (one gather) rather than kept per group.
            var windows = Tensor(windowsBuffer.View.SubView(0, (long)n * p.Positions * p.Width * p.EmbedDim), n * p.Positions, p.Width * p.EmbedDim);
            var gradConv = Tensor(convBuffer.View.SubView(0, (long)n * p.Positions * p.Filters), n * p.Positions, p.Filters);
            cnn.Windows(stream, p, ids.View, CharEmbed.Value.View, windows.View);
            cnn.MaxPoolBackward(stream, p, argmax.View, gradPre.View, gradConv.View);
            device.Gemm.Multiply(stream, windows, true, gradConv, false, weight.Gradient.Reshape(p.Width * p.EmbedDim, p.Filters), beta: 1f);
            // dWindows overwrites the windows, which the weight gradient above has finished reading.
            device.Gemm.Multiply(stream, gradConv, false, weight.Value.Reshape(p.Width * p.EmbedDim, p.Filters), true, windows);
            cnn.WindowsBackward(stream, p, windows.View, gradEmbedded.View);
        }
        // Atomic adds for real characters (on GPUs the float sums are not bit-reproducible); the padding
        // character's positions summed per token first; padding tokens (id 0) add nothing to row 0.
        cnn.EmbeddingGradient(stream, new CharEmbeddingParams(n, CharacterMapper.MaxCharacters, d, CharacterMapper.Padding + 1),
            ids.View, gradEmbedded.View, CharEmbed.Gradient.View);
        savedIds = null;
    }

    int CheckIds(DeviceTensor<int> ids)
    {
        if (ids.Shape.Rank != 2 || ids.Shape[1] != CharacterMapper.MaxCharacters)
            throw new ShapeMismatchException($"Character ids must be [N, {CharacterMapper.MaxCharacters}]; got {ids.Shape}.");
        return ids.Shape[0];
    }

    CharConvParams GroupParams(int k, int tokens)
    {
        int offset = 0;
        for (int j = 0; j < k; j++) offset += Options.Filters[j].Count;
        var (width, count) = Options.Filters[k];
        return new CharConvParams(tokens, CharacterMapper.MaxCharacters, Options.EmbeddingDim, width, count, offset,
            Options.NFilters, activation);
    }

    /// <summary>Layer i's views: input x, shared pre-activation scratch, its saved gate, transform and output.</summary>
    HighwayViews HighwayBuffers(int i, int n, DeviceTensor<float> x)
    {
        int f = Options.NFilters;
        var h = Highways[i];
        return new HighwayViews(x.View,
            workspace.Get<float>("highway carry pre-activation", n, f).View,
            workspace.Get<float>("highway transform pre-activation", n, f).View,
            h.CarryBias.Value.View, h.TransformBias.Value.View,
            workspace.Get<float>($"highway {i} gate", n, f).View,
            workspace.Get<float>($"highway {i} transform", n, f).View,
            workspace.Get<float>($"highway {i} output", n, f).View);
    }

    static DeviceTensor<float> Tensor(ILGPU.ArrayView<float> view, int rows, int cols) =>
        DeviceTensor<float>.FromView(view, new Shape(rows, cols));

    public void Dispose()
    {
        foreach (var p in parameters) p.Dispose();
        workspace.Dispose();
    }
}
