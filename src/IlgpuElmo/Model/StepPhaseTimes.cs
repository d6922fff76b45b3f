using System.Diagnostics;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

/// <summary>
/// Where a training step's wall time goes, phase by phase: <see cref="Begin"/> at the step's start, then each
/// <see cref="Mark"/> waits for the device and adds the time since the previous mark to the phase it names.
/// `elmo bench` runs a few steps with it after its timing and prints the totals, so the next lever is
/// visible without a profiler. The waits serialise a GPU's streams (host execution runs its launches in
/// order anyway), which is why the timed steps run without it. Nothing is allocated once every phase has
/// been seen.
/// </summary>
public sealed class StepPhaseTimes(ComputeDevice device)
{
    readonly List<string> names = [];
    readonly List<long> ticks = [];
    readonly List<int> counts = [];
    long last;

    /// <summary>A step starts: the device's earlier work is not counted.</summary>
    public void Begin()
    {
        device.Synchronize();
        last = Stopwatch.GetTimestamp();
    }

    /// <summary>The phase <paramref name="phase"/> ends here: its time since the last mark (or <see cref="Begin"/>) is added to it.</summary>
    public void Mark(string phase)
    {
        device.Synchronize();
        long now = Stopwatch.GetTimestamp();
        int i = names.IndexOf(phase);
        if (i < 0)
        {
            names.Add(phase);
            ticks.Add(0);
            counts.Add(0);
            i = names.Count - 1;
        }
        ticks[i] += now - last;
        counts[i]++;
        last = now;
    }

    /// <summary>Each phase in the order first seen: its mean milliseconds per mark and how many marks it had.</summary>
    public IReadOnlyList<StepPhase> Phases =>
        [.. names.Select((name, i) => new StepPhase(name, ticks[i] * 1000.0 / Stopwatch.Frequency / counts[i], counts[i]))];
}

/// <summary>One phase of a step: its mean wall time per step and the steps it was measured over.</summary>
public readonly record struct StepPhase(string Name, double Milliseconds, int Steps);
