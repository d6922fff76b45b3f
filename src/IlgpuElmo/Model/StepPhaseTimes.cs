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
    readonly List<Totals> phases = [];
    long last;

    /// <summary>One phase's running totals.</summary>
    sealed class Totals(string name)
    {
        public readonly string Name = name;
        public long Ticks;
        public int Marks;
    }

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
        // A loop, not a lambda: a mark allocates nothing after a phase's first.
        Totals? totals = null;
        foreach (var seen in phases)
            if (seen.Name == phase) { totals = seen; break; }
        if (totals is null) phases.Add(totals = new Totals(phase));
        totals.Ticks += now - last;
        totals.Marks++;
        last = now;
    }

    /// <summary>Each phase in the order first seen: its mean milliseconds per mark and how many marks it had.</summary>
    public IReadOnlyList<StepPhase> Phases =>
        [.. phases.Select(t => new StepPhase(t.Name, t.Ticks * 1000.0 / Stopwatch.Frequency / t.Marks, t.Marks))];
}

/// <summary>One phase of a step: its mean wall time per step and the steps it was measured over.</summary>
public readonly record struct StepPhase(string Name, double Milliseconds, int Steps);
