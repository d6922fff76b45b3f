using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests;

/// <summary>
/// The devices tests run on, created once per test run: ILGPU's CPU accelerator with every kernel
/// launched through its GPU simulation (what checks the kernels themselves), and the same accelerator
/// with kernel bodies run as host loops (the fast CPU path users get).
/// </summary>
public static class TestDevices
{
    static readonly Lazy<ComputeDevice> simulated = new(() => ComputeDevice.CreateCpu(CpuExecution.Simulate, TextWriter.Null));
    static readonly Lazy<ComputeDevice> host = new(() => ComputeDevice.CreateCpu(CpuExecution.Host, TextWriter.Null));

    public static ComputeDevice Simulated => simulated.Value;
    public static ComputeDevice Host => host.Value;

    /// <summary>Both execution modes, for [Theory] data.</summary>
    public static TheoryData<string> Modes => new() { "simulate", "host" };

    public static ComputeDevice Get(string mode) => mode == "host" ? Host : Simulated;
}
