using System.Text.Json.Nodes;

namespace IlgpuElmo.Data;

/// <summary>
/// metrics.jsonl: one JSON object per line, each with a "step". Lines are appended and flushed as they
/// happen; a resumed run first drops the lines written after its checkpoint's step, so the curve
/// continues from exactly where the checkpoint was, with nothing lost and nothing doubled.
/// </summary>
public sealed class MetricsLog(string path)
{
    public string Path { get; } = path;

    public void Append(JsonObject record)
    {
        File.AppendAllText(Path, record.ToJsonString() + "\n");
    }

    public IReadOnlyList<JsonObject> ReadAll()
    {
        if (!File.Exists(Path)) return [];
        var records = new List<JsonObject>();
        foreach (var line in File.ReadLines(Path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonNode.Parse(line) is JsonObject o) records.Add(o);
            }
            catch (System.Text.Json.JsonException)
            {
                // A line cut off by a kill mid-write: the run resumes from its checkpoint, so it is dropped.
            }
        }
        return records;
    }

    /// <summary>Keeps only records with step &lt;= <paramref name="step"/> (atomic rewrite).</summary>
    public void TruncateAfter(long step)
    {
        var kept = ReadAll().Where(r => (r["step"]?.GetValue<long>() ?? 0) <= step).Select(r => r.ToJsonString());
        AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + "\n")));
    }
}
