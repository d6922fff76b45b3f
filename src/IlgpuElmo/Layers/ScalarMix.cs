using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// ELMo's task-specific combination of the biLM layers (Peters et al. 2018, eq. 1):
///   ELMo = gamma * sum_l softmax(s)_l * h_l,
/// optionally layer-normalising each h_l first over its unmasked positions (allennlp's ScalarMix with
/// do_layer_norm, bilm-tf's weight_layers with do_layer_norm). Trainable: s [L] and gamma [1], under
/// bilm-tf's names "{name}_ELMo_W" and "{name}_ELMo_gamma" (s starts at 0, gamma at 1).
/// </summary>
/// <remarks>
/// Layout: layers [L, T, B, D] time-major (or [L, N, D], taken as T = N, B = 1), lengths [B] tokens per
/// batch row; output [T, B, D]. Backward needs the layers of the last Forward unchanged (they are not
/// copied) and adds to the parameters' gradients; the layers' gradient is written, or added to.
/// </remarks>
public sealed class ScalarMix : IHasParameters, IDisposable
{
    readonly ComputeDevice device;
    readonly ScalarMixKernels kernels;
    readonly Workspace workspace;
    readonly DeviceTensor<int> noMask;

    // Saved by Forward for Backward.
    DeviceTensor<float>? savedLayers;
    DeviceTensor<int>? savedLengths;
    ScalarMixParams savedParams;

    public ScalarMix(ComputeDevice device, int layerCount, bool layerNorm = false, string name = "elmo",
        IReadOnlyList<float>? initialScalars = null, float initialGamma = 1f)
    {
        if (layerCount < 1) throw new ArgumentOutOfRangeException(nameof(layerCount), layerCount, "A scalar mix needs at least one layer.");
        if (initialScalars is not null && initialScalars.Count != layerCount)
            throw new ArgumentException($"ScalarMix: {initialScalars.Count} initial scalars for {layerCount} layers.");
        this.device = device;
        kernels = device.Kernels(rt => new ScalarMixKernels(rt));
        workspace = new Workspace(device);
        LayerCount = layerCount;
        LayerNorm = layerNorm;
        Scalars = Parameter.Create(device, $"{name}_ELMo_W", new Shape(layerCount));
        Gamma = Parameter.Create(device, $"{name}_ELMo_gamma", new Shape(1));
        Scalars.Value.CopyFrom(device.Stream, (initialScalars ?? new float[layerCount]).ToArray());
        Gamma.Value.CopyFrom(device.Stream, [initialGamma]);
        noMask = device.Upload<int>([0], 1);
    }

    public int LayerCount { get; }
    public bool LayerNorm { get; }

    /// <summary>s [L]: the mixing weights before the softmax.</summary>
    public Parameter Scalars { get; }

    /// <summary>gamma [1]: the overall scale.</summary>
    public Parameter Gamma { get; }

    public IEnumerable<Parameter> Parameters => [Scalars, Gamma];

    /// <summary>
    /// output [T, B, D] = gamma * sum_l softmax(s)_l * y_l for layers [L, T, B, D]; <paramref name="lengths"/> [B]
    /// (null: every position counts) only matters for the layer-norm statistics.
    /// </summary>
    public void Forward(DeviceTensor<float> layers, DeviceTensor<int>? lengths, DeviceTensor<float> output)
    {
        var p = Params(layers, lengths, accumulate: false);
        output.Expect("ScalarMix output", layers.Shape.Rank == 4 ? new Shape(p.Steps, p.Batch, p.Dim) : new Shape(p.Steps, p.Dim));
        kernels.Forward(device.Stream, p, layers.View, (lengths ?? noMask).View, Scalars.Value.View, Gamma.Value.View,
            Partials(p).View, Stats.View, Coefficients.View, output.View);
        savedLayers = layers;
        savedLengths = lengths;
        savedParams = p;
    }

    /// <summary>
    /// Given dL/doutput [T, B, D] for the last Forward: adds dL/ds and dL/dgamma to the parameters' gradients
    /// and writes dL/dlayers [L, T, B, D] into <paramref name="gradLayers"/> (adds to it when <paramref name="accumulate"/>).
    /// </summary>
    public void Backward(DeviceTensor<float> gradOutput, DeviceTensor<float> gradLayers, bool accumulate = false)
    {
        if (savedLayers is null) throw new InvalidOperationException("ScalarMix.Backward needs a Forward first.");
        var p = savedParams with { Accumulate = accumulate ? 1 : 0 };
        gradLayers.Expect("ScalarMix layers gradient", savedLayers.Shape);
        gradOutput.Expect("ScalarMix output gradient", savedLayers.Shape.DropDim0());
        kernels.Backward(device.Stream, p, savedLayers.View, (savedLengths ?? noMask).View, Gamma.Value.View, Stats.View, Coefficients.View,
            gradOutput.View, Partials(p).View, Totals.View, Scalars.Gradient.View, Gamma.Gradient.View, gradLayers.View);
    }

    /// <summary>
    /// Backward for the parameters only: adds dL/ds and dL/dgamma for the last Forward and computes no layers'
    /// gradient (the layers are frozen, as in a probe), which saves a pass over every layer element.
    /// </summary>
    public void ParameterBackward(DeviceTensor<float> gradOutput)
    {
        if (savedLayers is null) throw new InvalidOperationException("ScalarMix.ParameterBackward needs a Forward first.");
        gradOutput.Expect("ScalarMix output gradient", savedLayers.Shape.DropDim0());
        kernels.ParameterBackward(device.Stream, savedParams, savedLayers.View, (savedLengths ?? noMask).View, Gamma.Value.View, Stats.View,
            Coefficients.View, gradOutput.View, Partials(savedParams).View, Totals.View, Scalars.Gradient.View, Gamma.Gradient.View);
    }

    /// <summary>softmax(s), copied to the host (not for hot paths): the weights an embedding dump's mix uses.</summary>
    public float[] NormalizedWeights()
    {
        var s = Scalars.Value.ToArray(device.Stream);
        float max = s.Max();
        var e = s.Select(v => MathF.Exp(v - max)).ToArray();
        float total = e.Sum();
        return e.Select(v => v / total).ToArray();
    }

    ScalarMixParams Params(DeviceTensor<float> layers, DeviceTensor<int>? lengths, bool accumulate)
    {
        var shape = layers.Shape;
        if (shape.Rank is not (3 or 4) || shape[0] != LayerCount)
            throw new ShapeMismatchException($"ScalarMix: layers must be [{LayerCount}, T, B, D] (or [{LayerCount}, N, D]); got {shape}.");
        int steps = shape[1], batch = shape.Rank == 4 ? shape[2] : 1, dim = shape[-1];
        if (lengths is not null)
        {
            if (shape.Rank != 4) throw new ArgumentException("ScalarMix: lengths need time-major layers [L, T, B, D].");
            lengths.Expect("ScalarMix lengths", new Shape(batch));
        }
        return new ScalarMixParams(LayerCount, steps, batch, dim, lengths is null ? 0 : 1, LayerNorm ? 1 : 0, accumulate ? 1 : 0);
    }

    /// <summary>[L + 1, D] column sums (forward uses the first L rows).</summary>
    DeviceTensor<float> Partials(ScalarMixParams p) => workspace.Get<float>("scalar_mix.partials", LayerCount + 1, p.Dim);

    /// <summary>[2L + 1]: means, inverse standard deviations, 1/M; saved for backward.</summary>
    DeviceTensor<float> Stats => workspace.Get<float>("scalar_mix.stats", 2 * LayerCount + 1);

    /// <summary>[2L]: softmax(s), then gamma * softmax(s) / sigma; saved for backward.</summary>
    DeviceTensor<float> Coefficients => workspace.Get<float>("scalar_mix.coefficients", 2 * LayerCount);

    /// <summary>[L + 1]: backward's a_l = sum(G * y_l) and S = sum(G).</summary>
    DeviceTensor<float> Totals => workspace.Get<float>("scalar_mix.totals", LayerCount + 1);

    public void Dispose()
    {
        workspace.Dispose();
        noMask.Dispose();
        Scalars.Dispose();
        Gamma.Dispose();
    }
}
