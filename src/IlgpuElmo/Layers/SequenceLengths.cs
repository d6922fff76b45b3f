using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Layers;

/// <summary>
/// Each batch row's number of real time steps, on the host (for checks) and on the device (for the
/// kernels' masks). Positions t &gt;= length of a row are padding. The two copies must agree; kernels
/// never range-check, so <see cref="Check"/> runs on the host before every launch that indexes by length.
/// </summary>
public sealed class SequenceLengths : IDisposable
{
    readonly bool ownsDevice;

    /// <summary>Wraps lengths already on the device; <paramref name="device"/> [B] must hold the same values as <paramref name="host"/>.</summary>
    public SequenceLengths(int[] host, DeviceTensor<int> device) : this(host, device, owns: false) { }

    SequenceLengths(int[] host, DeviceTensor<int> device, bool owns)
    {
        device.Expect("sequence lengths on the device", new Shape(host.Length));
        for (int b = 0; b < host.Length; b++)
            if (host[b] < 0) throw new ArgumentException($"Sequence length of batch row {b} is {host[b]}; lengths must be >= 0.");
        Host = host;
        Device = device;
        ownsDevice = owns;
    }

    /// <summary>Copies <paramref name="lengths"/> to the device (owned: disposed with this object).</summary>
    public static SequenceLengths Upload(ComputeDevice device, int[] lengths) =>
        new((int[])lengths.Clone(), device.Upload<int>(lengths, lengths.Length), owns: true);

    /// <summary>Every row of <paramref name="batch"/> rows full for <paramref name="steps"/> steps.</summary>
    public static SequenceLengths Full(ComputeDevice device, int batch, int steps) => Upload(device, Enumerable.Repeat(steps, batch).ToArray());

    public int[] Host { get; }

    /// <summary>[B] the same lengths on the device.</summary>
    public DeviceTensor<int> Device { get; }

    public int Batch => Host.Length;

    /// <summary>Throws unless there is one length per batch row, each within [0, steps].</summary>
    public void Check(string what, int steps, int batch)
    {
        if (batch != Host.Length)
            throw new ArgumentException($"{what}: the batch has {batch} rows but {Host.Length} sequence lengths were given.");
        for (int b = 0; b < Host.Length; b++)
            if (Host[b] > steps)
                throw new ArgumentException($"{what}: batch row {b} has length {Host[b]}, more than the {steps} time steps of the input.");
    }

    public void Dispose()
    {
        if (ownsDevice) Device.Dispose();
    }
}
