using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Tensors;
using ILGPU.Runtime;

namespace IlgpuElmo.Training;

/// <summary>
/// A run's checkpoint, DIR/checkpoint.bin: every tensor that determines what happens next (parameters,
/// optimizer state, the LSTM states carried between windows) and the trainer's position (step, data
/// position, options and vocabulary fingerprints) in one sealed <see cref="TensorArchive"/>, written
/// atomically so the last good checkpoint survives a crash mid-write.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "checkpoint.bin";

    public static string PathIn(string runDirectory) => System.IO.Path.Combine(runDirectory, FileName);

    public static void Save(string runDirectory, AcceleratorStream stream, TrainerPosition position,
        IEnumerable<(string Name, DeviceTensor<float> Tensor)> tensors)
    {
        var metadata = JsonSerializer.SerializeToNode(position)!.AsObject();
        var data = tensors.Select(t => (t.Name, t.Tensor.Shape.Dims.ToArray(), t.Tensor.ToArray(stream)));
        TensorArchive.Write(PathIn(runDirectory), metadata, data);
    }

    /// <summary>Reads DIR/checkpoint.bin; errors name the file and what is wrong.</summary>
    public static (TrainerPosition Position, Dictionary<string, (int[] Shape, float[] Data)> Tensors) Load(string runDirectory)
    {
        var (metadata, tensors) = TensorArchive.Read(PathIn(runDirectory));
        var position = metadata.Deserialize<TrainerPosition>()
            ?? throw new InputException($"Checkpoint '{PathIn(runDirectory)}' has no trainer position.");
        return (position, tensors);
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

    /// <summary>A stable fingerprint of a text (options JSON, vocabulary), to detect a changed one on resume.</summary>
    public static string Fingerprint(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}

/// <summary>Where training is: saved in the checkpoint so `--resume` continues exactly there.</summary>
public sealed record TrainerPosition(
    long Step,
    long TokensSeen,
    double ElapsedSeconds,
    string OptionsFingerprint,
    string VocabularyFingerprint,
    ulong Seed,
    BatcherState Batcher);
