using System.Text.Json;
using IlgpuElmo.Data;

namespace IlgpuElmo.Model;

/// <summary>
/// A run's corpus and plan, saved in its folder as run.json so that a resume needs nothing else: the
/// corpus files as expanded when the run started, the step target, how often to checkpoint and
/// evaluate, the seed, the device it started on and whether the token encoder is frozen; the run's
/// identity, which its checkpoints carry too, and its corpus files' stamps. Runs recorded before the last
/// two existed have neither, and are resumed without those checks.
/// </summary>
public sealed record RunSettings(string[] TrainFiles, string[]? DevFiles, string[]? TestFiles, long TotalSteps,
    int CheckpointEvery, int EvalEvery, ulong Seed, string Device, bool FreezeEncoder = false, string? RunId = null,
    CorpusStamp[]? Corpus = null)
{
    public const string FileName = "run.json";

    static readonly JsonSerializerOptions Format = new() { WriteIndented = true };

    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, FileName);

    /// <summary>Reads DIR/run.json; a missing, damaged or incomplete one is an error naming it and what to do.</summary>
    public static RunSettings Read(string runDirectory)
    {
        string path = PathIn(runDirectory);
        if (!File.Exists(path)) throw new InputException($"--resume {runDirectory}: there is no run.json there; give the folder of an earlier `elmo train`.");
        var settings = JsonFiles.Read<RunSettings>(path, "The run's plan is damaged; start the run again with --out and --overwrite.");
        if (settings.TrainFiles is null || settings.TotalSteps < 1)
            throw new InputException($"{path}: has no training files or step count; start the run again with --out and --overwrite.");
        return settings;
    }

    /// <summary>A new run's identity: 16 random hex digits.</summary>
    public static string NewRunId() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    /// <summary>The run id in DIR/run.json, or null when there is none (no run.json, an older run, or an unreadable file).</summary>
    public static string? ReadRunId(string runDirectory)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(PathIn(runDirectory)))?["RunId"]?.GetValue<string>();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// Throws, naming the file and what to do, when a recorded corpus file no longer exists or changed: a run
    /// continues on the text it recorded.
    /// </summary>
    public void CheckCorpus(string runDirectory)
    {
        foreach (var stamp in Corpus ?? [])
        {
            if (stamp.Difference() is not { } difference) continue;
            var (role, option) = TrainFiles.Contains(stamp.Path) ? ("training", "--train") : DevFiles?.Contains(stamp.Path) == true ? ("held-out", "--dev") : ("test", "--test");
            throw new InputException(
                $"--resume {runDirectory}: the run's {role} file {stamp.Path} {difference}. A run continues on the corpus it recorded: " +
                $"put the file back as it was, or train this model on the new text in a new run (elmo train --init {runDirectory} {option} ...).");
        }
    }

    /// <summary>Writes DIR/run.json atomically.</summary>
    public void Write(string runDirectory) => AtomicFile.WriteAllText(PathIn(runDirectory), JsonSerializer.Serialize(this, Format));
}
