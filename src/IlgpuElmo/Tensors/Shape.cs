namespace IlgpuElmo.Tensors;

/// <summary>A row-major tensor shape. Equality is by dimensions; errors print it as [d0, d1, ...].</summary>
public readonly struct Shape : IEquatable<Shape>
{
    readonly int[]? dims;

    public Shape(params int[] dims)
    {
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"Shape {Format(dims)} has a negative dimension.");
        this.dims = (int[])dims.Clone();
    }

    public int Rank => dims?.Length ?? 0;
    public int this[int axis] => dims![axis < 0 ? axis + Rank : axis];
    public ReadOnlySpan<int> Dims => dims;

    /// <summary>Number of elements (1 for a scalar shape []).</summary>
    public long Size
    {
        get
        {
            long size = 1;
            if (dims is not null) foreach (int d in dims) size *= d;
            return size;
        }
    }

    /// <summary>Elements per step of dimension 0: the product of the remaining dimensions.</summary>
    public long RowSize
    {
        get
        {
            long p = 1;
            for (int i = 1; i < Rank; i++) p *= dims![i];
            return p;
        }
    }

    public Shape WithDim0(int n)
    {
        var d = (int[])dims!.Clone();
        d[0] = n;
        return new Shape(d);
    }

    public Shape DropDim0() => new(dims![1..]);

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    public override string ToString() => Format(dims ?? []);
    static string Format(int[] d) => "[" + string.Join(", ", d) + "]";

    public static implicit operator Shape(int[] dims) => new(dims);

    /// <summary>Throws naming both shapes when <paramref name="actual"/> differs from <paramref name="expected"/>.</summary>
    public static void Check(string what, Shape actual, Shape expected)
    {
        if (actual != expected)
            throw new ShapeMismatchException($"{what}: expected shape {expected}, got {actual}.");
    }
}

/// <summary>A tensor had the wrong shape; the message names both shapes.</summary>
public sealed class ShapeMismatchException(string message) : ArgumentException(message);
