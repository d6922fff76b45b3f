using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Encoders;

/// <summary>
/// Layer 0 of the biLM: maps each of N token positions (time-major [T, B] flattened to [T*B]) to a
/// context-free vector of <see cref="OutputSize"/>. The ids are word ids [N] or character ids [N, 50],
/// depending on the encoder; the output is [N, OutputSize].
/// </summary>
public interface ITokenEncoder : IHasParameters
{
    int OutputSize { get; }

    /// <summary>
    /// Computes output [N, OutputSize] from the ids. The ids tensor must stay unchanged until
    /// <see cref="Backward"/> (it is read there).
    /// </summary>
    void Forward(AcceleratorStream stream, DeviceTensor<int> ids, DeviceTensor<float> output);

    /// <summary>Adds the parameter gradients for gradOutput [N, OutputSize] of the last <see cref="Forward"/>.</summary>
    void Backward(AcceleratorStream stream, DeviceTensor<float> gradOutput);
}
