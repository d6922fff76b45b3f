using System.Diagnostics.Tracing;

namespace IlgpuElmo.Tests;

/// <summary>
/// Bytes of large-object managed memory the process allocates during a piece of work: what maps
/// fresh pages when it recurs step after step (any array of 85,000 bytes or more is a large object; small
/// objects are recycled by the GC in place). Read from the runtime's own report, the GC's allocation ticks:
/// one event per 100 KB allocated of each kind, carrying the bytes since the last one. A sentinel allocation
/// of known size before and after the work closes the count exactly: the ticks from the first sentinel's on
/// add up to everything allocated since, so what they hold beyond the second sentinel is the work's.
/// </summary>
public sealed class LargeAllocations : EventListener
{
    const int TickKeyword = 0x1; // GC keyword; the allocation tick is at verbose level
    const int SentinelBytes = 256 * 1024;
    readonly object sync = new();
    readonly List<(string Type, long Bytes)> ticks = [];

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)TickKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        var names = e.PayloadNames!;
        if (Convert.ToUInt32(e.Payload[names.IndexOf("AllocationKind")]) != 1) return; // 0: small objects, 2: pinned
        long bytes = Convert.ToInt64(e.Payload[names.IndexOf("AllocationAmount64")]);
        string type = e.Payload[names.IndexOf("TypeName")]?.ToString() ?? "?";
        lock (sync) ticks.Add((type, bytes));
    }

    /// <summary>
    /// Large-object bytes <paramref name="work"/> allocated (within a few bytes: the sentinels' size is counted as
    /// the array's elements, not its header), and the types the GC's ticks named.
    /// </summary>
    public static (long Bytes, IReadOnlyList<string> Types) During(Action work)
    {
        using var listener = new LargeAllocations();
        listener.Sentinel();
        int first = listener.ticks.Count;
        work();
        listener.Sentinel();
        lock (listener.sync)
        {
            var window = listener.ticks.Skip(first).ToList();
            return (window.Sum(t => t.Bytes) - SentinelBytes, window.Select(t => t.Type).Where(t => !t.Contains(nameof(SentinelBlock))).Distinct().ToList());
        }
    }

    /// <summary>Allocates the sentinel and waits until its tick arrives (the events come on another thread).</summary>
    void Sentinel()
    {
        int seen;
        lock (sync) seen = ticks.Count(t => t.Type.Contains(nameof(SentinelBlock)));
        GC.KeepAlive(new SentinelBlock[SentinelBytes / 16 - 2]); // 16-byte elements: just over 256 KB with the header
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            lock (sync)
                if (ticks.Count(t => t.Type.Contains(nameof(SentinelBlock))) > seen) return;
            Thread.Sleep(10);
        }
        throw new InvalidOperationException("The runtime reported no allocation tick for a 256 KB array within 20 s: the GC's events are not reaching EventListeners.");
    }

    struct SentinelBlock
    {
        public long A, B;
    }
}
