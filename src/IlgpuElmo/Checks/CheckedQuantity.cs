namespace IlgpuElmo.Checks;

/// <summary>
/// One quantity compared between a device and the CPU host path: its kind (loss, gradient norm, parameter
/// change, embedding), name, relative error and the tolerance it must stay within.
/// </summary>
public sealed record CheckedQuantity(string Kind, string Name, double Error, double Tolerance)
{
    /// <summary>Within tolerance; NaN (a NaN on one side only, or both sides' NaNs differing) never passes.</summary>
    public bool Passed => Error <= Tolerance;

    /// <summary>Error over tolerance: above 1 fails; what orders the worst first.</summary>
    public double Severity => double.IsNaN(Error) ? double.PositiveInfinity : Error / Tolerance;

    public override string ToString() => $"{Name}: {Format(Error)} (tolerance {Format(Tolerance)}) {(Passed ? "ok" : "FAIL")}";

    /// <summary>A relative error in short scientific notation: 4.75E-7, 1E-5.</summary>
    public static string Format(double value) => value == 0 ? "0" : value.ToString("0.##E+0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>|device - host| / |host| (both zero: 0).</summary>
    public static double RelativeError(double device, double host)
    {
        if (double.IsNaN(device) || double.IsNaN(host)) return double.NaN;
        double difference = Math.Abs(device - host);
        return difference == 0 ? 0 : difference / Math.Abs(host);
    }

    /// <summary>max |device - host| over max |host|, elementwise over two tensors of one shape (0 when they are equal).</summary>
    public static double NormwiseError(ReadOnlySpan<float> device, ReadOnlySpan<float> host) => ChangeError(device, host, default);

    /// <summary>
    /// max |device - host| over max |host - initial|: the normwise error of the change each side made from the
    /// same <paramref name="initial"/> values (none: from zero), i.e. of the update a run computed, which a
    /// comparison of the values alone would dwarf by the initial weights. In float64, so exact.
    /// </summary>
    public static double ChangeError(ReadOnlySpan<float> device, ReadOnlySpan<float> host, ReadOnlySpan<float> initial)
    {
        if (device.Length != host.Length || (!initial.IsEmpty && initial.Length != host.Length))
            throw new ArgumentException($"Tensors of {device.Length}, {host.Length} and {initial.Length} elements cannot be compared.");
        double worst = 0, scale = 0;
        for (int i = 0; i < host.Length; i++)
        {
            double difference = Math.Abs((double)device[i] - host[i]);
            if (double.IsNaN(difference)) return double.NaN;
            worst = Math.Max(worst, difference);
            scale = Math.Max(scale, Math.Abs((double)host[i] - (initial.IsEmpty ? 0 : initial[i])));
        }
        return worst == 0 ? 0 : worst / scale;
    }
}
