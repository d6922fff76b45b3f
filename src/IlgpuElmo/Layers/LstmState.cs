using IlgpuElmo.Tensors;
using ILGPU.Runtime;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// The recurrent state of a (bidirectional) LSTM stack: for each direction d and layer k, the projected
/// output h [B, P] and the cell c [B, H]. Forward reads an initial state and writes the final one, so
/// a stream of windows carries state across calls (the same object may be both: carried in place).
/// The same shape holds state gradients in Backward.
/// </summary>
public sealed class LstmState : IDisposable
{
    readonly DeviceTensor<float> h, c;

    public LstmState(ComputeDevice device, int directions, int layers, int batch, int hidden, int projection)
    {
        Directions = directions;
        Layers = layers;
        Batch = batch;
        Hidden = hidden;
        Projection = projection;
        h = device.Allocate<float>(new Shape(directions, layers, batch, projection), "LSTM state h");
        c = device.Allocate<float>(new Shape(directions, layers, batch, hidden), "LSTM state c");
        Clear(device.Stream);
    }

    public int Directions { get; }
    public int Layers { get; }
    public int Batch { get; }
    public int Hidden { get; }
    public int Projection { get; }

    /// <summary>[D, L, B, P] all projected states.</summary>
    public DeviceTensor<float> AllH => h;

    /// <summary>[D, L, B, H] all cells.</summary>
    public DeviceTensor<float> AllC => c;

    /// <summary>[B, P] h of layer <paramref name="layer"/> in direction <paramref name="direction"/> (0 forward, 1 backward).</summary>
    public DeviceTensor<float> H(int direction, int layer) => h.Row(direction).Row(layer);

    /// <summary>[B, H] c of layer <paramref name="layer"/> in direction <paramref name="direction"/>.</summary>
    public DeviceTensor<float> C(int direction, int layer) => c.Row(direction).Row(layer);

    /// <summary>The (h, c) pair of one layer and direction.</summary>
    public LstmLayerState Layer(int direction, int layer) => new(H(direction, layer), C(direction, layer));

    /// <summary>Zeroes every state (the start of a stream, or after a document boundary).</summary>
    public void Clear(AcceleratorStream stream)
    {
        h.Clear(stream);
        c.Clear(stream);
    }

    /// <summary>Throws unless this state fits a stack of the given sizes.</summary>
    public void Check(string what, int directions, int layers, int batch, int hidden, int projection)
    {
        if (Directions < directions || Layers != layers || Batch != batch || Hidden != hidden || Projection != projection)
            throw new ArgumentException(
                $"{what}: the state holds {Directions} direction(s) x {Layers} layer(s) of h [{Batch}, {Projection}], c [{Batch}, {Hidden}]; " +
                $"this LSTM needs {directions} x {layers} of h [{batch}, {projection}], c [{batch}, {hidden}].");
    }

    public void Dispose()
    {
        h.Dispose();
        c.Dispose();
    }
}

/// <summary>One layer's state (or state gradient): h [B, P] and c [B, H].</summary>
public readonly record struct LstmLayerState(DeviceTensor<float> H, DeviceTensor<float> C);
