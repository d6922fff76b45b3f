namespace IlgpuElmo.Tensors;

/// <summary>
/// Named scratch buffers a layer reuses across steps and calls, so nothing is allocated in hot loops:
/// the first request for a name allocates, later ones return a view of the same buffer (reallocating
/// only when a larger shape is asked for, e.g. a longer batch). Views from an earlier request for the
/// same name alias the new one: a name is one buffer.
/// </summary>
public sealed class Workspace(ITensorAllocator device) : IDisposable
{
    readonly Dictionary<string, object> buffers = new();

    /// <summary>Total bytes currently held.</summary>
    public long Bytes { get; private set; }

    public DeviceTensor<T> Get<T>(string name, params int[] dims) where T : unmanaged => GetWithin<T>(name, 0, dims);

    /// <summary>
    /// Like <see cref="Get{T}"/>, but a new buffer holds at least <paramref name="capacity"/> elements: for
    /// buffers whose size varies per call up to a known bound (rows per cluster, distinct rows touched), so
    /// the first call allocates the bound and later ones never reallocate.
    /// </summary>
    public DeviceTensor<T> GetWithin<T>(string name, long capacity, params int[] dims) where T : unmanaged
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
        long size = Math.Max(shape.Size, capacity);
        if (size > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(capacity), size, $"Workspace '{name}': a buffer holds at most 2^31-1 elements.");
        var fresh = device.Allocate<T>(new Shape((int)size), $"workspace '{name}'");
        buffers[name] = fresh;
        Bytes += fresh.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        return DeviceTensor<T>.FromView(fresh.View.SubView(0, shape.Size), shape);
    }

    public void Dispose()
    {
        foreach (var b in buffers.Values) ((IDisposable)b).Dispose();
        buffers.Clear();
        Bytes = 0;
    }
}
