using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Encoders;

/// <summary>
/// The rows a batch of ids touches, grouped for the deterministic scatter-add
/// (<see cref="EmbeddingKernels.SegmentedScatterAdd"/>) and for row-sparse updates: built on the host
/// from the batch's ids (range-checked here), then uploaded. <see cref="Rows"/> [Count] are the unique
/// ids, ascending — what <see cref="Layers.Parameter.TouchedRows"/> holds.
/// </summary>
public sealed class RowSegments : IDisposable
{
    readonly Workspace workspace;
    readonly int vocabularySize;
    int[] counts = [], sorted = [], starts = [], rows = [];

    public RowSegments(ComputeDevice device, int vocabularySize)
    {
        this.vocabularySize = vocabularySize;
        workspace = new Workspace(device);
        counts = new int[vocabularySize + 1];
    }

    /// <summary>Number of unique rows (segments) in the last <see cref="Update"/>.</summary>
    public int Count { get; private set; }

    /// <summary>How many ids the last <see cref="Update"/> grouped.</summary>
    public int Positions { get; private set; }

    /// <summary>Unique rows touched, ascending: [Count] (a view into a buffer that may be longer).</summary>
    public DeviceTensor<int> Rows { get; private set; } = null!;

    /// <summary>Device views for the segmented scatter-add.</summary>
    public SegmentViews Views { get; private set; }

    /// <summary>Checks the ids against the vocabulary (<see cref="InputException"/> on a bad one), groups and uploads them.</summary>
    public void Update(AcceleratorStream stream, ReadOnlySpan<int> ids, string what)
    {
        EmbeddingIds.CheckRange(ids, vocabularySize, what);
        int n = ids.Length;
        if (sorted.Length < n)
        {
            sorted = new int[n];
            starts = new int[n + 1];
            rows = new int[n];
        }
        Count = EmbeddingKernels.PlanSegments(ids, vocabularySize, counts, sorted, starts, rows);
        Positions = n;
        var dSorted = workspace.Get<int>("sorted positions", Math.Max(n, 1));
        var dStarts = workspace.Get<int>("segment starts", n + 1);
        var dRows = workspace.Get<int>("unique rows", Math.Max(n, 1));
        // Through the stream's upload staging: the host arrays are reused next call, the stream is not waited on.
        if (n > 0)
        {
            dSorted.Slice(0, n).CopyFrom(stream, sorted.AsSpan(0, n));
            dRows.Slice(0, Count).CopyFrom(stream, rows.AsSpan(0, Count));
        }
        dStarts.Slice(0, Count + 1).CopyFrom(stream, starts.AsSpan(0, Count + 1));
        Rows = DeviceTensor<int>.FromView(dRows.View.SubView(0, Count), new Shape(Count));
        Views = new SegmentViews(dSorted.View.SubView(0, n), dStarts.View, dRows.View);
    }

    public void Dispose() => workspace.Dispose();
}
