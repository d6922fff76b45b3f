using IlgpuElmo.Layers;
using ILGPU.Runtime;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Where data-parallel training combines replicas' gradients: the optimizer calls it after the backward
/// pass and before the global norm, so every replica clips and updates with the same summed gradients.
/// A single device needs none. A device-side implementation enqueues its collectives on the stream it is
/// given without waiting (<see cref="Distributed.NcclGradientAllReduce"/> for the dense gradients); one
/// through host memory waits for the stream first (<see cref="Distributed.MpiGradientAllReduce"/>). A row-sparse
/// parameter leaves with the union of every replica's touched rows as its <see cref="Parameter.TouchedRows"/>.
/// </summary>
public interface IGradientAllReduce
{
    void AllReduce(AcceleratorStream stream, IReadOnlyList<Parameter> parameters);
}
