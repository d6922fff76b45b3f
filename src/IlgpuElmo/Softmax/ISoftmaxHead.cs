using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Softmax;

/// <summary>
/// The biLM's output layer: scores hidden states against a vocabulary of V word ids (sorted by frequency,
/// id 0 the most frequent) and returns the cross-entropy of the next-token targets. Three heads share this
/// interface so the trainer can call any of them the same way: <see cref="FullSoftmaxHead"/> (exact),
/// <see cref="SampledSoftmaxHead"/> (bilm-tf's training loss; exact for evaluation) and
/// <see cref="AdaptiveSoftmaxHead"/> (exact, torch.nn.AdaptiveLogSoftmaxWithLoss).
/// </summary>
/// <remarks>
/// Shapes and contracts, for every method:
/// <list type="bullet">
/// <item><c>hidden</c> [N, P] rows of hidden states (time-major [T*B, P] flattened, or both directions'
/// rows concatenated), <c>targets</c> [N] int32 word ids; a negative target marks a padding row, which
/// gets no loss and zero gradient. A target at or above V is an <see cref="InputException"/>.</item>
/// <item>The training call (<see cref="ForwardBackward(AcceleratorStream, DeviceTensor{float}, TrainingTargets, DeviceTensor{float}, float, LossOutput)"/>)
/// takes the targets' host copy along (validation; the sampled and adaptive heads also build their row
/// lists from it) and writes the loss on the device: it enqueues work and returns without waiting.
/// The other calls read the targets to the host and return a loss or fill an output: they wait.</item>
/// <item>Losses are sums over the valid rows, in float64, of -log p(target) (natural log).</item>
/// </list>
/// </remarks>
public interface ISoftmaxHead : IHasParameters, IDisposable
{
    /// <summary>V, the number of word ids.</summary>
    int VocabularySize { get; }

    /// <summary>P, the width of the hidden states.</summary>
    int HiddenSize { get; }

    /// <summary>
    /// Call once per training step, after the trainer has zeroed the gradients and before the first
    /// ForwardBackward call: row-sparse parameters then list (<see cref="Parameter.TouchedRows"/>)
    /// the union of the rows the step's calls touch. A no-op for heads without row-sparse parameters.
    /// </summary>
    void BeginStep(AcceleratorStream stream);

    /// <summary>
    /// The training loss and its gradients. Returns the summed loss over valid rows. <paramref name="gradHidden"/>
    /// [N, P] is WRITTEN (overwritten; padding rows get zeros) with lossScale * dLoss/dhidden; parameter
    /// gradients are ACCUMULATED (+=) with lossScale * dLoss/dparameter. Pass lossScale = 1 / (valid rows) for
    /// the mean loss's gradients.
    /// </summary>
    double ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets,
        DeviceTensor<float> gradHidden, float lossScale);

    /// <summary>
    /// The same, without a host wait: the targets come with their host copy, and the summed loss is written
    /// on the device to <paramref name="loss"/> (times its scale) instead of returned.
    /// </summary>
    void ForwardBackward(AcceleratorStream stream, DeviceTensor<float> hidden, TrainingTargets targets,
        DeviceTensor<float> gradHidden, float lossScale, LossOutput loss);

    /// <summary>The exact cross-entropy summed over valid rows (forward only; perplexity = exp(sum / valid rows)).</summary>
    double Loss(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets);

    /// <summary>Writes the exact normalized log-probabilities of every word: output [N, V].</summary>
    void LogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<float> output);

    /// <summary>Writes log p(target) for each row: output [N]; 0 for padding rows.</summary>
    void TargetLogProbabilities(AcceleratorStream stream, DeviceTensor<float> hidden, DeviceTensor<int> targets, DeviceTensor<float> output);
}
