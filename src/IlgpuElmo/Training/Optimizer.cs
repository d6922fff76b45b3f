using ILGPU;
using ILGPU.Runtime;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;

namespace IlgpuElmo.Training;

/// <summary>
/// Optimizer settings. Adagrad defaults are bilm-tf's (learning rate 0.2, initial accumulator 1.0);
/// Adam's are the usual (0.001, 0.9, 0.999, 1e-8).
/// </summary>
public sealed record OptimizerOptions(
    OptimizerKind Kind = OptimizerKind.Adagrad,
    float LearningRate = 0.2f,
    float InitialAccumulator = 1.0f,
    float Beta1 = 0.9f,
    float Beta2 = 0.999f,
    float Epsilon = 1e-8f);

/// <summary>
/// Applies one update to every parameter from its accumulated gradient, after global-norm clipping,
/// and zeroes the gradients for the next step (fused in the update kernels). Row-sparse parameters are
/// updated only in the rows their layer's backward listed as touched.
/// </summary>
/// <remarks>
/// Clipping never waits for the host: each parameter's squared gradient is reduced into its slice of one
/// partials buffer (<see cref="ReductionKernels"/>: coalesced grid-stride blocks, fixed order), one kernel
/// sums the partials into the norm and the clip scale, and the update kernels read the scale from the
/// device. The caller reads the norm later with the step's losses (<see cref="StepScalars"/>).
/// Launches per step: one per parameter (its partials), one finish, one update per parameter (row-sparse
/// ones only when rows were touched).
/// </remarks>
public sealed class Optimizer : IDisposable
{
    readonly ComputeDevice device;
    readonly OptimizerKernels kernels;
    readonly ReductionKernels reductions;
    readonly List<Slot> slots = new();
    readonly DeviceTensor<float> normPartials;
    readonly DeviceTensor<float> unitScale;
    readonly DeviceTensor<int> noRows;

    public Optimizer(ComputeDevice device, IEnumerable<Parameter> parameters, OptimizerOptions options)
    {
        this.device = device;
        Options = options;
        kernels = device.Kernels(rt => new OptimizerKernels(rt));
        reductions = device.Kernels(rt => new ReductionKernels(rt));
        var elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        long partialsStart = 0;
        foreach (var p in parameters)
        {
            var first = device.Allocate<float>(p.Shape, $"optimizer state of {p.Name}");
            elementwise.Fill(device.Stream, first.View, options.Kind == OptimizerKind.Adagrad ? options.InitialAccumulator : 0f);
            DeviceTensor<float>? second = null;
            if (options.Kind == OptimizerKind.Adam)
            {
                second = device.Allocate<float>(p.Shape, $"optimizer state of {p.Name}");
                second.Clear(device.Stream);
            }
            // A row-sparse parameter's partials are sized for all its rows; fewer touched rows leave blocks that write 0.
            int blocks = reductions.BlocksFor(p.Value.Length);
            slots.Add(new Slot(p, first, second, partialsStart, blocks));
            partialsStart += blocks;
        }
        Parameters = slots.Select(s => s.Parameter).ToList();
        normPartials = device.Allocate<float>(new Shape((int)Math.Max(1, partialsStart)), "gradient norm partials");
        normPartials.Clear(device.Stream);
        unitScale = device.Allocate<float>(new Shape(1), "unit gradient scale");
        elementwise.Fill(device.Stream, unitScale.View, 1f);
        noRows = device.Allocate<int>(new Shape(1), "no touched rows");
        noRows.Clear(device.Stream);
    }

    public OptimizerOptions Options { get; }

    /// <summary>The parameters this optimizer updates, in its order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Updates applied so far (Adam's bias correction uses it; checkpoints keep it).</summary>
    public long StepCount { get; set; }

    /// <summary>Data-parallel training's gradient combination, run before the norm; null on a single device.</summary>
    public IGradientAllReduce? AllReduce { get; init; }

    /// <summary>
    /// Global-norm clipping then one update, all enqueued on the device without a host wait:
    /// normAndScale [2] receives the global L2 norm of all gradients (touched rows only for row-sparse
    /// ones) and tf.clip_by_global_norm's scale (1 when <paramref name="clipNorm"/> &lt;= 0, NaN when the norm
    /// is not finite), which the update kernels read. The learning rate is multiplied by
    /// <paramref name="learningRateScale"/> (a schedule's multiplier for this step).
    /// </summary>
    public void ClipAndStep(float clipNorm, ArrayView<float> normAndScale, float learningRateScale = 1f)
    {
        var s = device.Stream;
        AllReduce?.AllReduce(s, Parameters);
        foreach (var slot in slots)
        {
            var p = slot.Parameter;
            var partials = normPartials.View.SubView(slot.PartialsStart, slot.Blocks);
            if (p.RowSparse) reductions.SquaredNormRowBlocks(s, Rows(p), p.Gradient.View, partials);
            else reductions.SquaredNormBlocks(s, p.Gradient.View, partials);
        }
        reductions.FinishNorm(s, normPartials.View, clipNorm, normAndScale);
        Update(normAndScale.SubView(1, 1), learningRateScale);
    }

    /// <summary>Applies one update with the gradients as they are (no clipping) and the learning rate times <paramref name="learningRateScale"/>, then zeroes them.</summary>
    public void Step(float learningRateScale = 1f) => Update(unitScale.View, learningRateScale);

    /// <summary>One update with every gradient multiplied by gradScale[0] (a device scalar), then zeroed.</summary>
    void Update(ArrayView<float> gradScale, float learningRateScale)
    {
        StepCount++;
        var o = Options;
        var step = new OptimizerStep(o.LearningRate * learningRateScale, o.Beta1, o.Beta2, o.Epsilon,
            1f - MathF.Pow(o.Beta1, StepCount), 1f - MathF.Pow(o.Beta2, StepCount));
        var s = device.Stream;
        foreach (var slot in slots)
        {
            var p = slot.Parameter;
            if (p.RowSparse)
            {
                if (p.TouchedCount == 0) continue;
                if (o.Kind == OptimizerKind.Adagrad) kernels.AdagradRows(s, step, Rows(p), p.Value.View, p.Gradient.View, slot.First.View, gradScale);
                else kernels.AdamRows(s, step, Rows(p), p.Value.View, p.Gradient.View, slot.First.View, slot.Second!.View, gradScale);
                p.TouchedCount = 0;
            }
            else if (o.Kind == OptimizerKind.Adagrad)
            {
                kernels.Adagrad(s, step, p.Value.View, p.Gradient.View, slot.First.View, gradScale);
            }
            else
            {
                kernels.Adam(s, step, p.Value.View, p.Gradient.View, slot.First.View, slot.Second!.View, gradScale);
            }
        }
    }

    /// <summary>The optimizer's state tensors by name, for checkpoints: "{param}/accumulator", or "/m" and "/v".</summary>
    public IEnumerable<(string Name, DeviceTensor<float> Tensor)> StateTensors()
    {
        foreach (var slot in slots)
        {
            if (Options.Kind == OptimizerKind.Adagrad) yield return ($"{slot.Parameter.Name}/accumulator", slot.First);
            else
            {
                yield return ($"{slot.Parameter.Name}/m", slot.First);
                yield return ($"{slot.Parameter.Name}/v", slot.Second!);
            }
        }
    }

    RowSet Rows(Parameter p) => p.TouchedRows is null || p.TouchedCount == 0
        ? new(noRows.View, 0, (int)p.Shape.RowSize)
        : new(p.TouchedRows.View, p.TouchedCount, (int)p.Shape.RowSize);

    public void Dispose()
    {
        foreach (var slot in slots)
        {
            slot.First.Dispose();
            slot.Second?.Dispose();
        }
        normPartials.Dispose();
        unitScale.Dispose();
        noRows.Dispose();
    }

    sealed record Slot(Parameter Parameter, DeviceTensor<float> First, DeviceTensor<float>? Second, long PartialsStart, int Blocks);
}
