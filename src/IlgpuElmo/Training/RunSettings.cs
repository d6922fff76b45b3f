using System.Text.Json;
using IlgpuElmo.Data;

namespace IlgpuElmo.Training;

/// <summary>
/// A run's corpus and plan, saved in its folder as run.json so that a resume needs nothing else: the
/// corpus files as expanded when the run started, the step target, how often to checkpoint and
/// evaluate, the seed, the device it started on and whether the token encoder is frozen.
/// </summary>
public sealed record RunSettings(string[] TrainFiles, string[]? DevFiles, string[]? TestFiles, long TotalSteps,
    int CheckpointEvery, int EvalEvery, ulong Seed, string Device, bool FreezeEncoder = false)
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

    /// <summary>Writes DIR/run.json atomically.</summary>
    public void Write(string runDirectory) => AtomicFile.WriteAllText(PathIn(runDirectory), JsonSerializer.Serialize(this, Format));
}
