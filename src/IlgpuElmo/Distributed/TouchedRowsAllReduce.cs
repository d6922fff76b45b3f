using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Sums a row-sparse gradient (word embedding, sampled-softmax rows) over the ranks without densifying its
/// table: the ranks all-gather their touched row ids over MPI and take the sorted union; each gathers those
/// rows of its gradient into a packed [U, width] buffer, which the transport sums (MPI through the host, or
/// NCCL on the device); the sums are written back and the union becomes the parameter's touched rows, so every
/// rank's norm and update visit the same rows.
/// </summary>
/// <remarks>
/// Writing back is exact: a rank's own rows are first cancelled by adding their negation (x + (-x) = 0 in
/// IEEE arithmetic), then the sums are added to zero; so every rank holds bit-identical gradients.
/// </remarks>
public sealed class TouchedRowsAllReduce(ComputeDevice device, MpiWorld world, Action<AcceleratorStream, DeviceTensor<float>> sumOverRanks) : IDisposable
{
    readonly EmbeddingKernels rows = device.Kernels(rt => new EmbeddingKernels(rt));
    readonly ElementwiseKernels elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
    readonly Workspace workspace = new(device);
    readonly Dictionary<Parameter, DeviceTensor<int>> unionRows = new();

    public void Combine(AcceleratorStream stream, Parameter p)
    {
        var union = TouchedRowUnion(stream, p);
        int width = (int)p.Shape.RowSize, u = union.Length;
        if (u == 0)
        {
            p.TouchedCount = 0;
            return;
        }
        if (!unionRows.TryGetValue(p, out var ids))
            unionRows[p] = ids = device.Allocate<int>(new Shape(p.Shape[0]), $"all ranks' touched rows of {p.Name}");
        var idView = DeviceTensor<int>.FromView(ids.View.SubView(0, u), new Shape(u));
        idView.CopyFrom(stream, union);
        var packed = workspace.Get<float>($"rows of {p.Name}", u, width);
        var negated = workspace.Get<float>($"negated rows of {p.Name}", u, width);
        rows.Gather(stream, p.Gradient.View, width, idView.View, packed.View);
        elementwise.Axpby(stream, -1f, packed.View, 0f, negated.View);
        rows.ScatterAdd(stream, negated.View, width, idView.View, p.Gradient.View);
        sumOverRanks(stream, packed);
        rows.ScatterAdd(stream, packed.View, width, idView.View, p.Gradient.View);
        p.TouchedRows = ids;
        p.TouchedCount = u;
    }

    /// <summary>The sorted union of every rank's touched rows of <paramref name="p"/> (waits for the device: the ids are read on the host).</summary>
    int[] TouchedRowUnion(AcceleratorStream stream, Parameter p)
    {
        int count = p.TouchedRows is null ? 0 : p.TouchedCount;
        var mine = count == 0 ? [] : DeviceTensor<int>.FromView(p.TouchedRows!.View.SubView(0, count), new Shape(count)).ToArray(stream);
        var counts = new int[world.Size];
        world.GatherAll([count], counts);
        var padded = new int[counts.Max()];
        Array.Fill(padded, -1);
        mine.CopyTo(padded, 0);
        var all = new int[padded.Length * world.Size];
        world.GatherAll(padded, all);
        return all.Where(r => r >= 0).Distinct().Order().ToArray();
    }

    public void Dispose()
    {
        foreach (var ids in unionRows.Values) ids.Dispose();
        workspace.Dispose();
    }
}
