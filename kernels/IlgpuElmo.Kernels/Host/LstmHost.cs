using System.Numerics;
using System.Numerics.Tensors;
using ILGPU;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Host execution's bodies of <see cref="LstmKernels"/>' pointwise kernels, one batch row per call, each
/// named after the kernel it stands for. The per-element maths is <see cref="LstmElement"/>'s (the scalar
/// loops call it; the vector loops repeat its operations in its order); the activations go through
/// <see cref="TensorPrimitives"/>' vectorised sigmoid and tanh over whole gate blocks instead of
/// <see cref="KernelMath"/>, so cell forward and backward differ from the kernels by a few ulps
/// (HostParityTests states the bound). Views are CPU-accelerator memory.
/// </summary>
static class LstmHost
{
    public static void CellForward(int b, LstmStepParams p, ArrayView<float> gates, ArrayView<float> bias, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutput)
    {
        int h = p.Hidden;
        var previous = Row(cellPrevious, b, h);
        var c = Row(cell, b, h);
        var m = Row(cellOutput, b, h);
        if (p.Step >= lengths[b])
        {
            previous.CopyTo(c);
            m.Clear();
            return;
        }
        var g = Row(gates, b, 4 * h);
        TensorPrimitives.Add(g, bias.AsHostSpan(), g);
        Span<float> input = g[..h], candidate = g.Slice(h, h), forget = g.Slice(2 * h, h), output = g.Slice(3 * h, h);
        TensorPrimitives.Sigmoid(input, input);
        TensorPrimitives.Tanh(candidate, candidate);
        TensorPrimitives.Add(forget, p.ForgetBias, forget);
        TensorPrimitives.Sigmoid(forget, forget);
        TensorPrimitives.Sigmoid(output, output);
        TensorPrimitives.Multiply(input, candidate, c);
        TensorPrimitives.MultiplyAdd(forget, previous, c, c);
        if (p.CellClip > 0f) TensorPrimitives.Clamp(c, -p.CellClip, p.CellClip, c);
        TensorPrimitives.Tanh(c, m);
        TensorPrimitives.Multiply(output, m, m);
    }

    public static void ProjectionForward(int b, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> statePrevious, ArrayView<float> state, ArrayView<float> output)
    {
        int width = p.Projection;
        var h = Row(state, b, width);
        var y = Row(output, b, width);
        if (p.Step >= lengths[b])
        {
            Row(statePrevious, b, width).CopyTo(h);
            y.Clear();
            return;
        }
        var z = Row(projection, b, width);
        if (p.ProjectionClip > 0f) TensorPrimitives.Clamp(z, -p.ProjectionClip, p.ProjectionClip, h);
        else z.CopyTo(h);
        h.CopyTo(y);
    }

    public static void ProjectionBackward(int b, LstmStepParams p, ArrayView<float> projection, ArrayView<int> lengths,
        ArrayView<float> outputGradient, ArrayView<float> stateGradient, ArrayView<float> projectionGradient)
    {
        int width = p.Projection;
        var dz = Row(projectionGradient, b, width);
        if (p.Step >= lengths[b])
        {
            dz.Clear();
            return;
        }
        var dh = Row(stateGradient, b, width);
        TensorPrimitives.Add(Row(outputGradient, b, width), dh, dz);
        if (p.ProjectionClip > 0f)
        {
            var z = Row(projection, b, width);
            for (int k = 0; k < width; k++) dz[k] = LstmElement.ProjectionGradient(z[k], dz[k], p.ProjectionClip);
        }
        dh.Clear();
    }

    public static void CellBackward(int b, LstmStepParams p, ArrayView<float> gates, ArrayView<int> lengths,
        ArrayView<float> cellPrevious, ArrayView<float> cell, ArrayView<float> cellOutputGradient, ArrayView<float> cellGradient,
        ArrayView<float> gateGradient)
    {
        int h = p.Hidden;
        var gg = Row(gateGradient, b, 4 * h);
        if (p.Step >= lengths[b])
        {
            gg.Clear();
            return;
        }
        ReadOnlySpan<float> g = Row(gates, b, 4 * h), previous = Row(cellPrevious, b, h), dm = Row(cellOutputGradient, b, h);
        var dc = Row(cellGradient, b, h);
        // tanh(c_t) goes first into the output gate's gradient slot, which the loop reads before it overwrites.
        var tanhCell = gg.Slice(3 * h, h);
        TensorPrimitives.Tanh(Row(cell, b, h), tanhCell);
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var one = Vector<float>.One;
            var clip = new Vector<float>(p.CellClip);
            bool clips = p.CellClip > 0f;
            for (; k <= h - Vector<float>.Count; k += Vector<float>.Count)
            {
                var input = new Vector<float>(g[k..]);
                var candidate = new Vector<float>(g[(h + k)..]);
                var forget = new Vector<float>(g[(2 * h + k)..]);
                var output = new Vector<float>(g[(3 * h + k)..]);
                var prev = new Vector<float>(previous[k..]);
                var tc = new Vector<float>(tanhCell[k..]);
                var outputGradient = new Vector<float>(dm[k..]);
                var d = new Vector<float>(dc[k..]) + outputGradient * output * (one - tc * tc);
                if (clips) d = Vector.ConditionalSelect(Vector.GreaterThan(Vector.Abs(forget * prev + input * candidate), clip), Vector<float>.Zero, d);
                (d * candidate * input * (one - input)).CopyTo(gg[k..]);
                (d * input * (one - candidate * candidate)).CopyTo(gg[(h + k)..]);
                (d * prev * forget * (one - forget)).CopyTo(gg[(2 * h + k)..]);
                (outputGradient * tc * output * (one - output)).CopyTo(gg[(3 * h + k)..]);
                (d * forget).CopyTo(dc[k..]);
            }
        }
        for (; k < h; k++)
        {
            var d = LstmElement.CellBackward(g[k], g[h + k], g[2 * h + k], g[3 * h + k], previous[k], tanhCell[k], dm[k], dc[k], p.CellClip);
            gg[k] = d.Input;
            gg[h + k] = d.Candidate;
            gg[2 * h + k] = d.Forget;
            gg[3 * h + k] = d.Output;
            dc[k] = d.CellPrevious;
        }
    }

    static Span<float> Row(ArrayView<float> view, int row, int width) => view.SubView((long)row * width, width).AsHostSpan();
}
