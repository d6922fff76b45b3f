using IlgpuElmo.Devices;
namespace IlgpuElmo.Layers;

/// <summary>
/// Initial values for parameters, drawn on the host from a seeded generator per parameter name (so a
/// model built twice with the same seed is identical on any device) and uploaded once.
/// </summary>
public static class ParameterInit
{
    /// <summary>Uniform in [-bound, bound].</summary>
    public static void Uniform(ComputeDevice device, Parameter p, double bound, ulong seed)
    {
        var random = RandomFor(p.Name, seed);
        var data = new float[p.Value.Length];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        p.Value.CopyFrom(device.Stream, data);
    }

    /// <summary>Glorot/Xavier uniform for a [fanIn, fanOut] matrix: bound sqrt(6 / (fanIn + fanOut)).</summary>
    public static void Glorot(ComputeDevice device, Parameter p, int fanIn, int fanOut, ulong seed) =>
        Uniform(device, p, Math.Sqrt(6.0 / (fanIn + fanOut)), seed);

    public static void Constant(ComputeDevice device, Parameter p, float value)
    {
        var data = new float[p.Value.Length];
        Array.Fill(data, value);
        p.Value.CopyFrom(device.Stream, data);
    }

    static Random RandomFor(string name, ulong seed)
    {
        ulong h = seed;
        foreach (char c in name) h = Kernels.CounterRandom.Hash(h, c);
        return new Random((int)(h & 0x7fffffff));
    }
}
