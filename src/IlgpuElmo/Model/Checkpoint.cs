using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Model;

/// <summary>
/// A run's checkpoint, DIR/checkpoint.bin: every tensor that determines what happens next (parameters,
/// optimizer state, the LSTM states carried between windows) and the trainer's position (step, data
/// position, options and vocabulary fingerprints) in one sealed <see cref="TensorArchive"/>.
/// </summary>
/// <remarks>
/// The last two good checkpoints are kept. A save writes checkpoint.pending.bin completely (temp file,
/// flush, rename), then renames checkpoint.bin to checkpoint.previous.bin and the pending file to
/// checkpoint.bin. At every instant a complete checkpoint exists under one of the three names, and a
/// reader finds the newest: checkpoint.bin, or checkpoint.pending.bin when a kill fell between the two
/// renames. A damaged latest checkpoint is reported with the previous one's step and the way to resume
/// from it (<c>elmo train --resume DIR --from-previous</c>), never used or replaced silently.
/// </remarks>
public static class Checkpoint
{
    public const string FileName = "checkpoint.bin", PreviousFileName = "checkpoint.previous.bin",
        PendingFileName = "checkpoint.pending.bin", DamagedFileName = "checkpoint.damaged.bin";

    public static string PathIn(string runDirectory) => System.IO.Path.Combine(runDirectory, FileName);

    public static string PreviousPathIn(string runDirectory) => System.IO.Path.Combine(runDirectory, PreviousFileName);

    /// <summary>The newest complete checkpoint's path: checkpoint.bin, or the pending one a kill left between renames.</summary>
    public static string LatestPathIn(string runDirectory)
    {
        string current = PathIn(runDirectory), pending = System.IO.Path.Combine(runDirectory, PendingFileName);
        return !File.Exists(current) && File.Exists(pending) ? pending : current;
    }

    public static void Save(string runDirectory, AcceleratorStream stream, TrainerPosition position,
        IEnumerable<(string Name, DeviceTensor<float> Tensor)> tensors) =>
        Save(runDirectory, position, tensors.Select(t => (t.Name, t.Tensor.Shape.Dims.ToArray(), t.Tensor.ToArray(stream))));

    /// <summary>Saves tensors already on the host (a data-parallel run's states gathered from every rank).</summary>
    public static void Save(string runDirectory, TrainerPosition position, IEnumerable<(string Name, int[] Shape, float[] Data)> data)
    {
        var metadata = JsonSerializer.SerializeToNode(position)!.AsObject();
        string current = PathIn(runDirectory), pending = System.IO.Path.Combine(runDirectory, PendingFileName);
        TensorArchive.Write(pending, metadata, data);
        if (File.Exists(current)) File.Move(current, PreviousPathIn(runDirectory), overwrite: true);
        File.Move(pending, current);
    }

    /// <summary>
    /// Reads the newest checkpoint (or, with <paramref name="fromPrevious"/>, the one before it). A
    /// damaged newest one is an error that names it and says whether and how the previous one can be used.
    /// </summary>
    public static (TrainerPosition Position, Dictionary<string, (int[] Shape, float[] Data)> Tensors) Load(
        string runDirectory, bool fromPrevious = false)
    {
        string previous = PreviousPathIn(runDirectory);
        if (fromPrevious)
        {
            if (!File.Exists(previous))
                throw new InputException($"--from-previous: there is no previous checkpoint in {runDirectory} ('{previous}' does not exist).");
            return Read(previous);
        }
        string latest = LatestPathIn(runDirectory);
        if (!File.Exists(latest) && !File.Exists(previous))
            throw new InputException(
                $"There is no checkpoint in {runDirectory} ('{latest}' does not exist: the run stopped before its first checkpoint, " +
                $"or this is not a run folder); start the run again with elmo train --out {runDirectory} --overwrite.");
        // A run that is training renames its checkpoints while this reads: a file that vanished between
        // finding and opening it was renamed, not damaged, and the newest one is looked for again.
        byte[] bytes;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                bytes = File.ReadAllBytes(latest);
                break;
            }
            catch (FileNotFoundException) when (attempt < RenameRetries)
            {
                Thread.Sleep(attempt);
                latest = LatestPathIn(runDirectory);
            }
            catch (FileNotFoundException e)
            {
                throw new InputException($"Checkpoint '{latest}' does not exist. {PreviousAdvice(runDirectory)}", e);
            }
        }
        try
        {
            return Parse(latest, bytes);
        }
        catch (InputException e)
        {
            throw new InputException($"{e.Message} {PreviousAdvice(runDirectory)}", e);
        }
    }

    /// <summary>How often a reader looks again for a checkpoint renamed under it (a save renames twice in a row).</summary>
    const int RenameRetries = 20;

    /// <summary>
    /// Moves a damaged checkpoint.bin aside (checkpoint.damaged.bin) before a run continues from the
    /// previous one, so the next save's rotation cannot push the good previous checkpoint out.
    /// </summary>
    public static void SetAsideLatest(string runDirectory)
    {
        string current = PathIn(runDirectory);
        if (File.Exists(current)) File.Move(current, System.IO.Path.Combine(runDirectory, DamagedFileName), overwrite: true);
    }

    static string PreviousAdvice(string runDirectory)
    {
        string previous = PreviousPathIn(runDirectory);
        if (!File.Exists(previous))
            return $"There is no previous checkpoint; start a new run (elmo train --out {runDirectory} --overwrite).";
        try
        {
            var (position, _) = Read(previous);
            return $"The previous checkpoint '{previous}' (step {position.Step}) is intact: continue from it with elmo train --resume {runDirectory} --from-previous.";
        }
        catch (InputException)
        {
            return $"The previous checkpoint '{previous}' is damaged too; start a new run (elmo train --out {runDirectory} --overwrite).";
        }
    }

    static (TrainerPosition, Dictionary<string, (int[] Shape, float[] Data)>) Read(string path)
    {
        if (!File.Exists(path)) throw new InputException($"Checkpoint '{path}' does not exist.");
        return Parse(path, File.ReadAllBytes(path));
    }

    static (TrainerPosition, Dictionary<string, (int[] Shape, float[] Data)>) Parse(string path, byte[] bytes)
    {
        var (metadata, tensors) = TensorArchive.Parse(path, bytes);
        TrainerPosition? position;
        try
        {
            position = metadata.Deserialize<TrainerPosition>();
        }
        catch (JsonException e)
        {
            throw new InputException($"Checkpoint '{path}' has an unreadable trainer position ({e.Message}).", e);
        }
        return (position ?? throw new InputException($"Checkpoint '{path}' has no trainer position."), tensors);
    }

    /// <summary>
    /// Copies the checkpoint's tensors into the live ones, requiring the same names and shapes: a
    /// mismatch means the checkpoint was made with other options, and the error says which tensor.
    /// </summary>
    public static void Restore(string source, AcceleratorStream stream, Dictionary<string, (int[] Shape, float[] Data)> saved,
        IEnumerable<(string Name, DeviceTensor<float> Tensor)> live)
    {
        foreach (var (name, tensor) in live)
        {
            if (!saved.TryGetValue(name, out var entry))
                throw new InputException($"Checkpoint '{source}' has no tensor '{name}': it was made with other options (model size, softmax or optimizer). Use the run's own options.json.");
            var shape = new Shape(entry.Shape);
            if (shape != tensor.Shape)
                throw new InputException($"Checkpoint '{source}' tensor '{name}' has shape {shape} but the model expects {tensor.Shape}: the checkpoint's options differ from the command's.");
            tensor.CopyFrom(stream, entry.Data);
        }
    }

    /// <summary>
    /// Throws when the checkpoint at <paramref name="path"/> was written by another run than the one whose
    /// run.json says <paramref name="runId"/> (a file copied in from another folder). A null id (a run from
    /// before run ids) accepts any checkpoint.
    /// </summary>
    public static void CheckOwner(string path, TrainerPosition position, string? runId)
    {
        if (runId is null || position.RunId == runId) return;
        string folder = System.IO.Path.GetDirectoryName(path) ?? ".";
        throw new InputException(
            $"Checkpoint '{path}' belongs to another run (run id {position.RunId ?? "none"}; the run in {folder} is {runId}): it was copied in from another folder. " +
            "Put this run's own checkpoint back; to train those weights further, start a new run from their folder with --init.");
    }

    /// <summary>A stable fingerprint of a text (options JSON, vocabulary), to detect a changed one on resume.</summary>
    public static string Fingerprint(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}

/// <summary>
/// Where training is: saved in the checkpoint so `--resume` continues exactly there. <c>Ranks</c>: the
/// data-parallel ranks that trained it (1 on one device); <c>RunId</c>: the run it belongs to (run.json's).
/// </summary>
public sealed record TrainerPosition(
    long Step,
    long TokensSeen,
    double ElapsedSeconds,
    string OptionsFingerprint,
    string VocabularyFingerprint,
    ulong Seed,
    BatcherState Batcher,
    int Ranks = 1,
    string? RunId = null);
