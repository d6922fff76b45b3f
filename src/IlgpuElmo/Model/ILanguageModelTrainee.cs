using IlgpuElmo.Data;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Model;

/// <summary>What the trainer needs from a language model; the biLM implements it.</summary>
public interface ILanguageModelTrainee : IHasParameters
{
    /// <summary>The training loss's name as the progress bar shows it ("sampled softmax loss", "cross-entropy").</summary>
    string TrainingLossName { get; }

    /// <summary>True when exp(training loss) is a perplexity (exact heads); false for the sampled softmax.</summary>
    bool TrainingLossIsExact { get; }

    /// <summary>
    /// Forward and backward over window number <paramref name="step"/> with dropout from
    /// <paramref name="seed"/>; accumulates every parameter's gradient (of the mean of the two directions'
    /// mean token losses) and carries LSTM states to the next window. Every random choice depends only on
    /// (seed, step), so a resumed run repeats an uninterrupted one. Enqueues the work without waiting for
    /// the device and writes each direction's mean token loss into <paramref name="scalars"/> on the device.
    /// </summary>
    void TrainStep(LmBatch batch, long step, ulong seed, StepScalars scalars);

    /// <summary>
    /// Exact mean negative log-likelihood per direction over one pass of <paramref name="batcher"/> (no
    /// dropout, own states). <paramref name="progress"/> hears the targets per direction done so far,
    /// after every window; <paramref name="cancel"/> stops it between windows (an <see cref="OperationCanceledException"/>).
    /// </summary>
    (double Forward, double Backward, long Tokens) Evaluate(LmBatcher batcher, IProgress<long>? progress = null, CancellationToken cancel = default);

    /// <summary>The carried LSTM states, for checkpoints (restored with the parameters).</summary>
    IEnumerable<(string Name, DeviceTensor<float> Tensor)> StateTensors { get; }
}
