using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

/// <summary>
/// A training step's scalars on the device, side by side so the host reads them in one small copy (the
/// step's one synchronisation): each direction's mean token loss (written by the softmax head), the global
/// gradient norm and the clip scale (written by the optimizer's ClipAndStep, in Training).
/// Layout: [loss forward, loss backward, gradient norm, clip scale].
/// </summary>
public sealed class StepScalars : IDisposable
{
    readonly DeviceTensor<float> values;
    readonly float[] host = new float[4];

    public StepScalars(ComputeDevice device)
    {
        values = device.Allocate<float>(new Shape(4), "step scalars");
        values.Clear(device.Stream);
    }

    /// <summary>[1] the forward direction's mean token loss.</summary>
    public ArrayView<float> LossForward => values.View.SubView(0, 1);

    /// <summary>[1] the backward direction's mean token loss.</summary>
    public ArrayView<float> LossBackward => values.View.SubView(1, 1);

    /// <summary>[2] the global gradient norm, then the clip scale the optimizer kernels read.</summary>
    public ArrayView<float> NormAndScale => values.View.SubView(2, 2);

    /// <summary>Copies the four values to the host, waiting for the step's work to finish.</summary>
    public StepValues Read(AcceleratorStream stream)
    {
        values.CopyTo(stream, host);
        return new StepValues(host[0], host[1], host[2], host[3]);
    }

    public void Dispose() => values.Dispose();
}

/// <summary>What <see cref="StepScalars.Read"/> returns.</summary>
public readonly record struct StepValues(double LossForward, double LossBackward, double GradientNorm, double ClipScale);
