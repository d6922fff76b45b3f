namespace IlgpuElmo.Tensors;

/// <summary>
/// Named scratch buffers a layer reuses across steps and calls, so nothing is allocated in hot loops:
/// the first request for a name allocates, later ones return a view of the same buffer (reallocating
/// only when a larger shape is asked for, e.g. a longer batch). Views from an earlier request for the
/// same name alias the new one: a name is one buffer.
/// </summary>
public sealed class Workspace(ComputeDevice device) : IDisposable
{
    readonly Dictionary<string, object> buffers = new();

    /// <summary>Total bytes currently held.</summary>
    public long Bytes { get; private set; }

    public DeviceTensor<T> Get<T>(string name, params int[] dims) where T : unmanaged
    {
        var shape = new Shape(dims);
        if (buffers.TryGetValue(name, out var existing))
        {
            var tensor = (DeviceTensor<T>)existing;
            if (tensor.Length >= shape.Size)
                return DeviceTensor<T>.FromView(tensor.View.SubView(0, shape.Size), shape);
            Bytes -= tensor.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            tensor.Dispose();
            buffers.Remove(name);
        }
        var fresh = device.Allocate<T>(shape, $"workspace '{name}'");
        buffers[name] = fresh;
        Bytes += fresh.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        return fresh;
    }

    public void Dispose()
    {
        foreach (var b in buffers.Values) ((IDisposable)b).Dispose();
        buffers.Clear();
        Bytes = 0;
    }
}
