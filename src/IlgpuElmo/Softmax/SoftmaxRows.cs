using IlgpuElmo.Tensors;
using IlgpuElmo.Kernels;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Softmax;

/// <summary>
/// What every head does with a batch of rows on the host: check the shapes, read the targets once and
/// validate them against the vocabulary, and read the per-row losses back and add them in float64.
/// The host arrays are kept between calls (no allocation per step once the largest batch was seen).
/// </summary>
internal sealed class SoftmaxRows(string head)
{
    int[] targets = [];
    float[] losses = [];

    /// <summary>Checks hidden [N, P], targets [N] and (if given) gradHidden [N, P]; returns N.</summary>
    public int CheckShapes(DeviceTensor<float> hidden, DeviceTensor<int>? targetIds, DeviceTensor<float>? gradHidden, int hiddenSize)
    {
        if (hidden.Shape.Rank != 2 || hidden.Shape[1] != hiddenSize)
            throw new ShapeMismatchException($"{head}: hidden states must be [N, {hiddenSize}], got {hidden.Shape}.");
        int n = hidden.Shape[0];
        if (targetIds is not null) Shape.Check($"{head}: targets", targetIds.Shape, new Shape(n));
        if (gradHidden is not null) Shape.Check($"{head}: gradient of the hidden states", gradHidden.Shape, hidden.Shape);
        return n;
    }

    /// <summary>
    /// Copies the targets to the host and checks them (<see cref="CheckTargets(ReadOnlySpan{int}, int)"/>). The span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<int> ReadTargets(AcceleratorStream stream, DeviceTensor<int> targetIds, int vocabularySize)
    {
        int n = (int)targetIds.Length;
        if (targets.Length < n) targets = new int[n];
        var host = targets.AsSpan(0, n);
        targetIds.CopyTo(stream, host);
        CheckTargets(host, vocabularySize);
        return host;
    }

    /// <summary>
    /// Checks each target is below <paramref name="vocabularySize"/> (negative = padding). Throws
    /// <see cref="InputException"/> naming the first bad row.
    /// </summary>
    public void CheckTargets(ReadOnlySpan<int> host, int vocabularySize)
    {
        int n = host.Length;
        for (int r = 0; r < n; r++)
            if (host[r] >= vocabularySize)
                throw new InputException(
                    $"{head}: target word id {host[r]} (row {r} of {n}) is outside the vocabulary of {vocabularySize} words. " +
                    "Token ids must come from the same vocabulary file the model was built with; padding rows use -1.");
    }

    /// <summary>Checks a training call's targets: their count, the host copy's values.</summary>
    public ReadOnlySpan<int> CheckTargets(TrainingTargets targetIds, int rows, int vocabularySize)
    {
        Shape.Check($"{head}: targets", targetIds.Device.Shape, new Shape(rows));
        if (targetIds.Host.Length != rows)
            throw new ShapeMismatchException($"{head}: {targetIds.Host.Length} host targets for {rows} rows.");
        CheckTargets(targetIds.Host, vocabularySize);
        return targetIds.Host;
    }

    /// <summary>Writes loss.Slot[0] = loss.Scale * (sum of rowLoss [N]) on the device, in a fixed order.</summary>
    public static void WriteLoss(ComputeDevice device, AcceleratorStream stream, DeviceTensor<float> rowLoss, LossOutput loss) =>
        device.Kernels(rt => new ReductionKernels(rt)).SumScaled(stream, rowLoss.View, loss.Scale, loss.Slot);

    /// <summary>Reads one device float (a loss a training call wrote) back: a host wait.</summary>
    public static double ReadScalar(AcceleratorStream stream, DeviceTensor<float> slot) => slot.ToArray(stream)[0];

    /// <summary>
    /// The host-facing form of a head's training call (tests, the probe, benchmarks): targets read back and
    /// checked, the loss summed on the device into a workspace slot, then read back (one wait).
    /// </summary>
    public double ForwardBackwardReadingLoss(ISoftmaxHead head, Workspace workspace, AcceleratorStream stream, DeviceTensor<float> hidden,
        DeviceTensor<int> targets, DeviceTensor<float> gradHidden, float lossScale)
    {
        CheckShapes(hidden, targets, gradHidden, head.HiddenSize);
        var host = ReadTargets(stream, targets, head.VocabularySize).ToArray();
        var sum = workspace.Get<float>("loss-sum", 1);
        head.ForwardBackward(stream, hidden, new TrainingTargets(host, targets), gradHidden, lossScale, new LossOutput(sum.View, 1f));
        return ReadScalar(stream, sum);
    }

    /// <summary>Reads rowLoss [N] back (waits for the device) and adds it up in float64.</summary>
    public double SumLosses(AcceleratorStream stream, DeviceTensor<float> rowLoss)
    {
        int n = (int)rowLoss.Length;
        if (losses.Length < n) losses = new float[n];
        var host = losses.AsSpan(0, n);
        rowLoss.CopyTo(stream, host);
        double total = 0;
        foreach (float x in host) total += x;
        return total;
    }
}
