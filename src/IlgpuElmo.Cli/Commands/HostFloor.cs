using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo bench`'s lines for host execution: which CPU ran it (model, cores, the ISA of the host GEMM), that
/// CPU's FMA peak measured in the same process (<see cref="FmaPeak"/>), and how far below it the GEMM alone
/// and the whole step or batch are: the floor, so the next lever is visible. "GEMM alone" is the GEMM calls
/// of one timed step (or batch), packs included, run again back to back with nothing between them.
/// </summary>
public sealed record HostFloor(HostProcessor Cpu, double PeakOneThread, double PeakAllThreads, double GemmGflopPerUnit,
    double GemmAloneMillisecondsPerUnit, int GemmCalls)
{
    /// <summary>Times the recorded <paramref name="calls"/> alone and measures the FMA peak of <paramref name="gemm"/>'s kernel.</summary>
    public static HostFloor Measure(ComputeDevice device, HostGemm gemm, long multiplyAddsPerUnit, IReadOnlyList<HostGemmCall> calls)
    {
        double alone = gemm.TimeAlone(device.Accelerator, calls);
        var cpu = HostProcessor.Current;
        return new HostFloor(cpu, FmaPeak.Measure(gemm.Kernel, 1), FmaPeak.Measure(gemm.Kernel, cpu.Cores),
            2.0 * multiplyAddsPerUnit / 1e9, alone * 1000, calls.Count);
    }

    /// <summary>The machine's peak: the one-thread loop's GFLOP/s times the cores.</summary>
    public double Peak => PeakOneThread * Cpu.Cores;

    /// <summary>The lines for a unit of work ("step", "batch") that took <paramref name="millisecondsPerUnit"/>.</summary>
    public IEnumerable<string> Report(string unit, double millisecondsPerUnit)
    {
        double gemmRate = GemmGflopPerUnit / (GemmAloneMillisecondsPerUnit / 1000), unitRate = GemmGflopPerUnit / (millisecondsPerUnit / 1000);
        return
        [
            $"cpu {Cpu}",
            $"FMA peak ({Cpu.Kernel} loop, 12 chains): {PeakOneThread:F1} GFLOP/s on one thread, x {Cpu.Cores} cores = {Peak:F1} " +
                $"(all {Cpu.Cores} threads at once measured {PeakAllThreads:F1})",
            $"GEMM alone: {GemmGflopPerUnit:F2} GFLOP per {unit} ({GemmCalls} calls and packs) in {GemmAloneMillisecondsPerUnit:F1} ms = " +
                $"{gemmRate:F1} GFLOP/s, {gemmRate / Peak:P0} of the FMA peak",
            $"whole {unit}: {GemmGflopPerUnit:F2} GFLOP of GEMM in {millisecondsPerUnit:F1} ms = {unitRate:F1} GFLOP/s, " +
                $"{unitRate / Peak:P0} of the FMA peak; GEMM alone takes {GemmAloneMillisecondsPerUnit / millisecondsPerUnit:P0} of the {unit}'s time",
        ];
    }
}
