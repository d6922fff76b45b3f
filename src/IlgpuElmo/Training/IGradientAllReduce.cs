using IlgpuElmo.Layers;
using ILGPU.Runtime;

namespace IlgpuElmo.Training;

/// <summary>
/// Where data-parallel training combines replicas' gradients: the optimizer calls it after the backward
/// pass and before the global norm, so every replica clips and updates with the same summed gradients.
/// A single device needs none. An implementation enqueues its collective (e.g. an NCCL all-reduce over
/// each dense gradient, and the touched rows of row-sparse ones) on the stream it is given without
/// waiting for it.
/// </summary>
public interface IGradientAllReduce
{
    void AllReduce(AcceleratorStream stream, IReadOnlyList<Parameter> parameters);
}
