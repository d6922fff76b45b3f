using IlgpuElmo.Tensors;
using ILGPU;

namespace IlgpuElmo.Softmax;

/// <summary>
/// A training call's targets [N] on the host and the same values on the device: the heads check and plan
/// from <see cref="Host"/> and never read <see cref="Device"/> back (no host wait).
/// </summary>
public sealed record TrainingTargets(int[] Host, DeviceTensor<int> Device);

/// <summary>Where a head writes its loss on the device: slot[0] = Scale * (sum of the rows' losses).</summary>
public readonly record struct LossOutput(ArrayView<float> Slot, float Scale);
