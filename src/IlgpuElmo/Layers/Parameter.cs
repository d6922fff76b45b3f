using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// A trainable tensor with its gradient, under the name checkpoints and weight files use.
/// Dense parameters get a full gradient every step. Row-sparse ones (embedding tables, softmax
/// weights) get gradient only in the rows a step touched: the layer's backward lists those rows in
/// <see cref="TouchedRows"/> (unique ids, <see cref="TouchedCount"/> of them) so the optimizer and the
/// gradient-norm clipping visit just those rows.
/// </summary>
public sealed class Parameter(string name, DeviceTensor<float> value, DeviceTensor<float> gradient, bool rowSparse = false) : IDisposable
{
    public string Name { get; } = name;
    public DeviceTensor<float> Value { get; } = value;
    public DeviceTensor<float> Gradient { get; } = gradient;
    public bool RowSparse { get; } = rowSparse;

    /// <summary>Row-sparse only: the unique rows the last backward wrote, on the device.</summary>
    public DeviceTensor<int>? TouchedRows { get; set; }

    /// <summary>Row-sparse only: how many entries of <see cref="TouchedRows"/> are valid.</summary>
    public int TouchedCount { get; set; }

    public Shape Shape => Value.Shape;

    /// <summary>Allocates a parameter and a zeroed gradient of the same shape.</summary>
    public static Parameter Create(ComputeDevice device, string name, Shape shape, bool rowSparse = false)
    {
        var value = device.Allocate<float>(shape, $"parameter {name}");
        var grad = device.Allocate<float>(shape, $"gradient of {name}");
        value.Clear(device.Stream);
        grad.Clear(device.Stream);
        return new Parameter(name, value, grad, rowSparse);
    }

    public void Dispose()
    {
        Value.Dispose();
        Gradient.Dispose();
    }
}

/// <summary>Anything with trainable parameters: layers, heads, the biLM.</summary>
public interface IHasParameters
{
    IEnumerable<Parameter> Parameters { get; }
}
