using IlgpuElmo.Data;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Distributed;

/// <summary>
/// The ranks of a data-parallel run and what the training loop asks of them. Every rank reads the whole
/// global batch (the same files, order and streams as one device would) and trains on its contiguous share
/// of the batch_size streams, carrying those streams' LSTM states; so R ranks see exactly the data one rank
/// would. Carried states are [D, L, B, X] with the streams in dimension 2: a checkpoint holds them for all
/// B streams (rank 0 gathers them), laid out as a one-device run's.
/// </summary>
public sealed class Replicas
{
    public Replicas(MpiWorld world, int batchSize)
    {
        if (batchSize % world.Size != 0)
            throw new InputException(
                $"--distributed: batch_size {batchSize} does not split evenly over {world.Size} ranks; choose a batch_size that is a multiple of the rank count (it is the global batch).");
        World = world;
        int local = batchSize / world.Size;
        Streams = new StreamRows(world.Rank * local, local, batchSize);
    }

    public MpiWorld World { get; }
    public StreamRows Streams { get; }
    public int Count => World.Size;
    public bool IsRoot => World.IsRoot;

    /// <summary>This rank's streams of the global window.</summary>
    public LmBatch ShareOf(LmBatch batch) => batch.Rows(Streams.First, Streams.Local);

    /// <summary>
    /// After a step: the losses summed over ranks (each rank's is its share of the global mean) and whether any
    /// rank was asked to stop, so all ranks checkpoint and stop at the same step.
    /// </summary>
    public (double Forward, double Backward, bool Stop) Combine(double lossForward, double lossBackward, bool stop)
    {
        Span<double> values = [lossForward, lossBackward, stop ? 1 : 0];
        World.SumInPlace(values);
        return (values[0], values[1], values[2] > 0);
    }

    /// <summary>Rank 0's parameter values on every rank (the initial weights).</summary>
    public void BroadcastFromRoot(AcceleratorStream stream, IEnumerable<Parameter> parameters)
    {
        foreach (var p in parameters)
        {
            var values = p.Value.ToArray(stream);
            World.Broadcast(values);
            p.Value.CopyFrom(stream, values);
        }
    }

    /// <summary>A carried state [D, L, b, X] of this rank's b streams gathered into all B streams' [D, L, B, X] (on every rank).</summary>
    public (int[] Shape, float[] Data) GatherStreams(AcceleratorStream stream, DeviceTensor<float> state)
    {
        var mine = state.ToArray(stream);
        var all = new float[mine.Length * Count];
        World.GatherAll(mine, all);
        int blocks = state.Shape[0] * state.Shape[1], local = state.Shape[2], width = (int)(state.Length / ((long)blocks * local));
        var global = new float[all.Length];
        for (int r = 0; r < Count; r++)
            for (int block = 0; block < blocks; block++)
                Array.Copy(all, ((long)r * blocks + block) * local * width, global, ((long)block * Count + r) * local * width, (long)local * width);
        return ([state.Shape[0], state.Shape[1], local * Count, width], global);
    }

    /// <summary>This rank's streams [D, L, b, X] of a checkpoint's all-stream state [D, L, B, X].</summary>
    public (int[] Shape, float[] Data) ShareOfStreams(int[] shape, float[] data)
    {
        if (shape.Length != 4 || shape[2] != Streams.Global)
            throw new InputException($"The checkpoint's carried LSTM state has shape [{string.Join(", ", shape)}], not {Streams.Global} streams in dimension 2.");
        int blocks = shape[0] * shape[1], width = shape[3], local = Streams.Local;
        var share = new float[(long)blocks * local * width];
        for (int block = 0; block < blocks; block++)
            Array.Copy(data, ((long)block * Streams.Global + Streams.First) * width, share, (long)block * local * width, (long)local * width);
        return ([shape[0], shape[1], local, width], share);
    }
}
