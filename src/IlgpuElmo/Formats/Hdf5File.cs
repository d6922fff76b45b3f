using PureHDF;
using PureHDF.VOL.Native;

namespace IlgpuElmo.Formats;

/// <summary>How floats are stored in an HDF5 file we write: IEEE float32, or float16 (half the size, ~3 significant digits).</summary>
public enum Hdf5Storage
{
    Float32,
    Float16,
}

/// <summary>
/// Reads named float tensors from an HDF5 file (weight files, token-embedding files, embedding dumps)
/// through PureHDF. Names are HDF5 paths ("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"); datasets stored
/// as float16, float32 or float64 all come back as float32. Every failure is an <see cref="InputException"/>
/// naming the file and the dataset, and for shapes both the expected and the stored one.
/// </summary>
public sealed class WeightFile : IDisposable
{
    readonly NativeFile file;

    WeightFile(string path, NativeFile file)
    {
        Path = path;
        this.file = file;
    }

    public string Path { get; }

    /// <summary>Opens <paramref name="path"/> for reading; a missing file or one that is not HDF5 is an InputException.</summary>
    public static WeightFile Open(string path)
    {
        Data.InputFiles.RefuseFolder(path, "HDF5 file", "weights.hdf5");
        if (!File.Exists(path))
            throw new InputException($"HDF5 file '{path}' does not exist. Check the path.");
        try
        {
            return new WeightFile(path, H5File.OpenRead(path));
        }
        catch (Exception e) when (e is not InputException)
        {
            throw new InputException($"'{path}' could not be read as an HDF5 file ({e.Message}): it is truncated, damaged or not HDF5. Is it the weight file (.hdf5)?", e);
        }
    }

    /// <summary>True when <paramref name="dataset"/> exists and is a dataset (not a group).</summary>
    public bool Contains(string dataset) => Guard(() => TryGet(dataset) is not null);

    /// <summary>The stored shape of <paramref name="dataset"/>, or null when it does not exist.</summary>
    public int[]? ShapeOf(string dataset) => Guard(() => TryGet(dataset) is { } d ? ShapeOf(d) : null);

    /// <summary>The full paths of all datasets in the file, depth first, in the file's link order.</summary>
    public IReadOnlyList<string> DatasetNames() => Guard(() =>
    {
        var names = new List<string>();
        Collect(file, "", names);
        return names;
    });

    /// <summary>
    /// The values of <paramref name="dataset"/>, row-major, after checking that it exists and has
    /// <paramref name="expectedShape"/> (-1 in a dimension accepts any size there).
    /// </summary>
    public float[] Read(string dataset, params int[] expectedShape) => Guard(() =>
    {
        var d = TryGet(dataset) ?? throw new InputException(
            $"{Path}: the dataset '{dataset}' (expected shape {Format(expectedShape)}) is missing. " +
            $"The file has {Describe(DatasetNames())}. Is it the weight file for these options?");
        var shape = ShapeOf(d);
        bool matches = shape.Length == expectedShape.Length;
        for (int i = 0; matches && i < shape.Length; i++) matches = expectedShape[i] < 0 || expectedShape[i] == shape[i];
        if (!matches)
            throw new InputException(
                $"{Path}: the dataset '{dataset}' has shape {Format(shape)}, expected {Format(expectedShape)}. " +
                "Do the options (dimensions, filters, layers) belong to this weight file?");
        return ReadValues(d, dataset);
    });

    /// <summary>The values and stored shape of <paramref name="dataset"/>, whatever its shape.</summary>
    public float[] Read(string dataset, out int[] shape)
    {
        var d = Guard(() => TryGet(dataset)) ?? throw new InputException(
            $"{Path}: the dataset '{dataset}' is missing. The file has {Describe(DatasetNames())}.");
        shape = Guard(() => ShapeOf(d));
        return ReadValues(d, dataset);
    }

    /// <summary>
    /// PureHDF reads the file's structure lazily, so a truncated or damaged file fails on any access
    /// (plain Exception "The file is too small", EndOfStreamException, ...): one message naming the file.
    /// </summary>
    T Guard<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is not InputException)
        {
            throw new InputException($"{Path}: the HDF5 file is truncated or damaged ({e.Message}); download or write it again.", e);
        }
    }

    float[] ReadValues(IH5Dataset d, string name)
    {
        if (d.Type.Class != H5DataTypeClass.FloatingPoint)
            throw new InputException($"{Path}: the dataset '{name}' holds {d.Type.Class} values; expected floating point.");
        long count = 1;
        foreach (int n in ShapeOf(d)) count *= n;
        if (count == 0) return [];
        try
        {
            switch (d.Type.Size)
            {
                case 4: return d.Read<float[]>();
                case 2: return Array.ConvertAll(d.Read<Half[]>(), h => (float)h);
                case 8: return Array.ConvertAll(d.Read<double[]>(), v => (float)v);
                default: throw new InputException($"{Path}: the dataset '{name}' has {d.Type.Size}-byte floats; expected 2, 4 or 8 bytes.");
            }
        }
        catch (Exception e) when (e is not InputException)
        {
            throw new InputException($"{Path}: the dataset '{name}' could not be read ({e.Message}); the HDF5 file is truncated or damaged.", e);
        }
    }

    IH5Dataset? TryGet(string dataset)
    {
        IH5Group group = file;
        var parts = dataset.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            if (!group.LinkExists(parts[i])) return null;
            var child = group.Get(parts[i]);
            if (i == parts.Length - 1) return child as IH5Dataset;
            if (child is not IH5Group sub) return null;
            group = sub;
        }
        return null;
    }

    static int[] ShapeOf(IH5Dataset d) => d.Space.Type == H5DataspaceType.Scalar
        ? []
        : Array.ConvertAll(d.Space.Dimensions, n => checked((int)n));

    static void Collect(IH5Group group, string prefix, List<string> names)
    {
        foreach (var child in group.Children())
        {
            string name = prefix + child.Name;
            if (child is IH5Dataset) names.Add(name);
            else if (child is IH5Group sub) Collect(sub, name + "/", names);
        }
    }

    static string Describe(IReadOnlyList<string> names) => names.Count switch
    {
        0 => "no datasets",
        <= 12 => $"{names.Count} datasets: {string.Join(", ", names)}",
        _ => $"{names.Count} datasets, e.g. {string.Join(", ", names.Take(12))}, ...",
    };

    internal static string Format(IEnumerable<int> shape) =>
        "[" + string.Join(", ", shape.Select(d => d < 0 ? "*" : d.ToString())) + "]";

    public void Dispose() => file.Dispose();
}

/// <summary>
/// Writes named float datasets to an HDF5 file atomically: everything goes to a temporary file in the
/// target's folder, which is renamed over the target only by <see cref="Commit"/>. A writer disposed
/// without Commit (an exception, a cancelled run) deletes the temporary file and leaves any existing
/// target untouched.
/// </summary>
/// <remarks>
/// Two kinds of datasets: <see cref="Add"/> hands over the values now (weights); <see cref="Declare"/>
/// fixes a name and shape whose values come later through <see cref="Write"/>, in any order, streamed
/// straight to disk (embedding dumps larger than memory). PureHDF needs the whole layout before the
/// first byte is written, so all Add and Declare calls come before the first Write.
/// Names with '/' create groups, as TensorFlow variable scopes do in bilm-tf's weight files.
/// </remarks>
public sealed class Hdf5Writer : IDisposable
{
    readonly H5File root = new();
    readonly List<DeclaredDataset> declared = new();
    readonly HashSet<string> names = new(StringComparer.Ordinal);
    readonly string tempPath;
    H5NativeWriter? writer;
    bool committed;

    public Hdf5Writer(string path, Hdf5Storage defaultStorage = Hdf5Storage.Float32)
    {
        Path = System.IO.Path.GetFullPath(path);
        DefaultStorage = defaultStorage;
        string folder = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(folder))
            throw new InputException($"Cannot write '{path}': the folder '{folder}' does not exist.");
        tempPath = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>The file the writer produces on <see cref="Commit"/>.</summary>
    public string Path { get; }

    public Hdf5Storage DefaultStorage { get; }

    /// <summary>Adds a dataset with its values now; <paramref name="data"/> is row-major of <paramref name="shape"/>.</summary>
    public void Add(string name, ReadOnlySpan<float> data, int[] shape, Hdf5Storage? storage = null)
    {
        CheckLayoutOpen(name);
        CheckLength(name, data.Length, shape);
        object values = (storage ?? DefaultStorage) == Hdf5Storage.Float16 ? ToHalf(data) : data.ToArray();
        Place(name, new H5Dataset(values, fileDims: ToDims(shape)));
    }

    /// <summary>Declares a dataset whose values are written later with <see cref="Write"/>.</summary>
    public DeclaredDataset Declare(string name, int[] shape, Hdf5Storage? storage = null)
    {
        CheckLayoutOpen(name);
        var s = storage ?? DefaultStorage;
        long size = 1;
        foreach (int d in shape) size *= d;
        object? h5 = null;
        // PureHDF cannot stream into a zero-size dataset; it is complete as declared.
        if (size == 0)
            Place(name, new H5Dataset(s == Hdf5Storage.Float16 ? Array.Empty<Half>() : Array.Empty<float>(), fileDims: ToDims(shape)));
        else
        {
            h5 = s == Hdf5Storage.Float16 ? new H5Dataset<Half[]>(fileDims: ToDims(shape)) : new H5Dataset<float[]>(fileDims: ToDims(shape));
            Place(name, h5);
        }
        var ds = new DeclaredDataset(this, name, (int[])shape.Clone(), size, s, h5) { Written = size == 0 };
        declared.Add(ds);
        return ds;
    }

    /// <summary>Writes the values of a declared dataset (row-major, all of it, once).</summary>
    public void Write(DeclaredDataset dataset, ReadOnlySpan<float> data)
    {
        if (committed) throw new InvalidOperationException($"{Path}: already committed.");
        if (!ReferenceEquals(dataset.Owner, this)) throw new ArgumentException($"Dataset '{dataset.Name}' was not declared on this writer.");
        if (dataset.Written) throw new InvalidOperationException($"{Path}: dataset '{dataset.Name}' was already written.");
        CheckLength(dataset.Name, data.Length, dataset.Shape);
        writer ??= Begin();
        if (dataset.Storage == Hdf5Storage.Float16) writer.Write((H5Dataset<Half[]>)dataset.Handle!, ToHalf(data));
        else writer.Write((H5Dataset<float[]>)dataset.Handle!, data.ToArray());
        dataset.Written = true;
    }

    /// <summary>Finishes the file and renames it into place. Every declared dataset must have been written.</summary>
    public void Commit()
    {
        if (committed) return;
        var missing = declared.Where(d => !d.Written).Select(d => $"'{d.Name}'").ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException(
                $"{Path}: {missing.Count} declared datasets were never written ({string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", ..." : "")}).");
        writer ??= Begin();
        writer.Dispose();
        writer = null;
        File.Move(tempPath, Path, overwrite: true);
        committed = true;
    }

    H5NativeWriter Begin()
    {
        try
        {
            return root.BeginWrite(tempPath);
        }
        catch (IOException e)
        {
            throw new InputException($"Cannot write '{Path}' (temporary file '{tempPath}'): {e.Message}", e);
        }
    }

    void Place(string name, object dataset)
    {
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException("A dataset needs a non-empty name.");
        H5Group group = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (!group.TryGetValue(parts[i], out var child))
            {
                child = new H5Group();
                group[parts[i]] = child;
            }
            group = child as H5Group ?? throw new ArgumentException($"'{name}': '{parts[i]}' is already a dataset, not a group.");
        }
        group[parts[^1]] = dataset;
        names.Add(name);
    }

    void CheckLayoutOpen(string name)
    {
        if (writer is not null || committed)
            throw new InvalidOperationException($"{Path}: dataset '{name}' added after writing began; add and declare every dataset before the first Write.");
        if (names.Contains(name)) throw new ArgumentException($"{Path}: dataset '{name}' is added twice.");
    }

    static void CheckLength(string name, int length, int[] shape)
    {
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Dataset '{name}': shape {WeightFile.Format(shape)} has a negative dimension.");
            size *= d;
        }
        if (size != length)
            throw new ArgumentException($"Dataset '{name}': {length} values do not fill shape {WeightFile.Format(shape)} ({size} values).");
    }

    static ulong[] ToDims(int[] shape) => Array.ConvertAll(shape, d => (ulong)d);

    static Half[] ToHalf(ReadOnlySpan<float> data)
    {
        var half = new Half[data.Length];
        for (int i = 0; i < data.Length; i++) half[i] = (Half)data[i];
        return half;
    }

    public void Dispose()
    {
        writer?.Dispose();
        writer = null;
        if (!committed && File.Exists(tempPath)) File.Delete(tempPath);
    }
}

/// <summary>A dataset declared on an <see cref="Hdf5Writer"/> whose values are written later.</summary>
public sealed class DeclaredDataset
{
    internal DeclaredDataset(Hdf5Writer owner, string name, int[] shape, long size, Hdf5Storage storage, object? handle)
    {
        Owner = owner;
        Name = name;
        Shape = shape;
        Size = size;
        Storage = storage;
        Handle = handle;
    }

    public string Name { get; }
    public int[] Shape { get; }
    public long Size { get; }
    public Hdf5Storage Storage { get; }
    public bool Written { get; internal set; }
    internal object? Handle { get; }
    internal Hdf5Writer Owner { get; }
}
