using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Encoders;

/// <summary>
/// Word-embedding token encoder: output[i] = embedding[ids[i]], with bilm-tf's row-sparse parameter
/// <c>embedding</c> [V, P]. Backward adds each position's gradient into its row with the deterministic
/// segmented scatter-add and lists the unique rows in <see cref="Parameter.TouchedRows"/>.
/// </summary>
/// <remarks>
/// The batch's ids are range-checked and grouped on the host: call <see cref="Prepare"/> with the host
/// copy of the ids the batch builder has. Without it, Backward copies the ids back from the device
/// (one synchronising copy per step) to group them.
/// </remarks>
public sealed class WordEmbeddingEncoder : ITokenEncoder, IDisposable
{
    readonly EmbeddingKernels kernels;
    readonly RowSegments segments;
    DeviceTensor<int>? savedIds;
    bool prepared;

    public WordEmbeddingEncoder(ComputeDevice device, int vocabularySize, int outputSize)
    {
        if (vocabularySize < 1 || outputSize < 1)
            throw new ArgumentException($"A word embedding needs a vocabulary and a size; got [{vocabularySize}, {outputSize}].");
        kernels = device.Kernels(rt => new EmbeddingKernels(rt));
        Embedding = Parameter.Create(device, "embedding", new Shape(vocabularySize, outputSize), rowSparse: true);
        segments = new RowSegments(device, vocabularySize);
    }

    /// <summary>The table [V, P] (bilm-tf's dataset name <c>embedding</c>).</summary>
    public Parameter Embedding { get; }

    public int VocabularySize => Embedding.Shape[0];
    public int OutputSize => Embedding.Shape[1];
    public IEnumerable<Parameter> Parameters => [Embedding];

    /// <summary>Checks the batch's ids (an <see cref="InputException"/> names a bad one) and groups them for Backward.</summary>
    public void Prepare(AcceleratorStream stream, ReadOnlySpan<int> hostIds)
    {
        segments.Update(stream, hostIds, "word ids");
        prepared = true;
    }

    /// <summary>output [N, P] = embedding[ids [N]]. Ids must be in range: use <see cref="Prepare"/> to check them.</summary>
    public void Forward(AcceleratorStream stream, DeviceTensor<int> ids, DeviceTensor<float> output)
    {
        if (ids.Shape.Rank != 1) throw new ShapeMismatchException($"Word ids must be [N]; got {ids.Shape}.");
        output.Expect("word embedding output", new Shape(ids.Shape[0], OutputSize));
        if (prepared && segments.Positions != ids.Shape[0])
            throw new ArgumentException($"Prepare saw {segments.Positions} ids but Forward got {ids.Shape[0]}.");
        kernels.Gather(stream, Embedding.Value.View, OutputSize, ids.View, output.View);
        savedIds = ids;
    }

    /// <summary>embedding.Gradient[ids[i]] += gradOutput[i] (rows summed in position order); sets the touched rows.</summary>
    public void Backward(AcceleratorStream stream, DeviceTensor<float> gradOutput)
    {
        var ids = savedIds ?? throw new InvalidOperationException("Backward before Forward.");
        gradOutput.Expect("word embedding output gradient", new Shape(ids.Shape[0], OutputSize));
        if (!prepared) segments.Update(stream, ids.ToArray(stream), "word ids");
        kernels.SegmentedScatterAdd(stream, gradOutput.View, OutputSize, segments.Views, segments.Count, Embedding.Gradient.View);
        Embedding.TouchedRows = segments.Rows;
        Embedding.TouchedCount = segments.Count;
        prepared = false;
        savedIds = null;
    }

    public void Dispose()
    {
        Embedding.Dispose();
        segments.Dispose();
    }
}
