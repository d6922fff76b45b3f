using ILGPU.Runtime;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Tensors;

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
public sealed class Optimizer : IDisposable
{
    const int NormChunk = 4096;
    readonly ComputeDevice device;
    readonly OptimizerKernels kernels;
    readonly ElementwiseKernels elementwise;
    readonly List<Slot> slots = new();

    public Optimizer(ComputeDevice device, IEnumerable<Parameter> parameters, OptimizerOptions options)
    {
        this.device = device;
        Options = options;
        kernels = device.Kernels(rt => new OptimizerKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
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
            long partials = p.RowSparse ? Math.Max(1, p.Shape[0]) : (p.Value.Length + NormChunk - 1) / NormChunk;
            slots.Add(new Slot(p, first, second, device.Allocate<float>(new Shape((int)Math.Max(1, partials)), $"norm partials of {p.Name}")));
        }
    }

    public OptimizerOptions Options { get; }

    /// <summary>Updates applied so far (Adam's bias correction uses it; checkpoints keep it).</summary>
    public long StepCount { get; set; }

    /// <summary>The global L2 norm of all gradients (touched rows only for row-sparse ones); one host synchronisation.</summary>
    public double GradientNorm()
    {
        var s = device.Stream;
        foreach (var slot in slots)
        {
            var p = slot.Parameter;
            if (p.RowSparse)
            {
                if (p.TouchedCount > 0)
                    kernels.SquaredNormRows(s, Rows(p), p.Gradient.View, slot.NormPartials.View.SubView(0, p.TouchedCount));
            }
            else
            {
                elementwise.SquaredNormPartials(s, p.Gradient.View, NormChunk, slot.NormPartials.View);
            }
        }
        double total = 0;
        foreach (var slot in slots)
        {
            int used = slot.Parameter.RowSparse ? slot.Parameter.TouchedCount : (int)slot.NormPartials.Length;
            if (used == 0) continue;
            var host = new float[used];
            slot.NormPartials.View.SubView(0, used).CopyToCPU(s, host);
            foreach (float v in host) total += v;
        }
        return Math.Sqrt(total);
    }

    /// <summary>
    /// Applies one update with the gradients multiplied by <paramref name="gradScale"/> and the learning
    /// rate by <paramref name="learningRateScale"/> (a schedule's multiplier), then zeroes the gradients.
    /// </summary>
    public void Step(float gradScale = 1f, float learningRateScale = 1f)
    {
        StepCount++;
        var o = Options;
        var step = new OptimizerStep(o.LearningRate * learningRateScale, gradScale, o.Beta1, o.Beta2, o.Epsilon,
            1f - MathF.Pow(o.Beta1, StepCount), 1f - MathF.Pow(o.Beta2, StepCount));
        var s = device.Stream;
        foreach (var slot in slots)
        {
            var p = slot.Parameter;
            if (p.RowSparse)
            {
                if (p.TouchedCount == 0) continue;
                if (o.Kind == OptimizerKind.Adagrad) kernels.AdagradRows(s, step, Rows(p), p.Value.View, p.Gradient.View, slot.First.View);
                else kernels.AdamRows(s, step, Rows(p), p.Value.View, p.Gradient.View, slot.First.View, slot.Second!.View);
                p.TouchedCount = 0;
            }
            else if (o.Kind == OptimizerKind.Adagrad)
            {
                kernels.Adagrad(s, step, p.Value.View, p.Gradient.View, slot.First.View);
            }
            else
            {
                kernels.Adam(s, step, p.Value.View, p.Gradient.View, slot.First.View, slot.Second!.View);
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

    static RowSet Rows(Parameter p) => new(p.TouchedRows!.View, p.TouchedCount, (int)p.Shape.RowSize);

    public void Dispose()
    {
        foreach (var slot in slots)
        {
            slot.First.Dispose();
            slot.Second?.Dispose();
            slot.NormPartials.Dispose();
        }
    }

    sealed record Slot(Parameter Parameter, DeviceTensor<float> First, DeviceTensor<float>? Second, DeviceTensor<float> NormPartials);
}
