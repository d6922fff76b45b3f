using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuElmo.Data;

namespace IlgpuElmo.Training;

/// <summary>
/// A finished run's result.json: its folder and step count, and with a test corpus the test perplexity
/// per direction and their geometric mean (<c>test_perplexity</c>) beside the unigram model's on the same split.
/// </summary>
public sealed record TrainingResult(
    [property: JsonPropertyName("run")] string Run,
    [property: JsonPropertyName("steps")] long Steps)
{
    public const string FileName = "result.json";

    [JsonPropertyName("test_perplexity_forward")] public double? TestPerplexityForward { get; init; }
    [JsonPropertyName("test_perplexity_backward")] public double? TestPerplexityBackward { get; init; }
    [JsonPropertyName("test_perplexity")] public double? TestPerplexity { get; init; }
    [JsonPropertyName("unigram_test_perplexity")] public double? UnigramTestPerplexity { get; init; }
    [JsonPropertyName("test_tokens")] public long? TestTokens { get; init; }

    /// <summary>True when a signal stopped the final test evaluation (training itself was complete); null otherwise.</summary>
    [JsonPropertyName("test_interrupted")] public bool? TestInterrupted { get; init; }

    static readonly JsonSerializerOptions Format = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, FileName);

    /// <summary>Reads DIR/result.json; a run without one has not finished, and the error says how to finish it.</summary>
    public static TrainingResult Read(string runDirectory)
    {
        string path = PathIn(runDirectory);
        if (!File.Exists(path))
            throw new InputException($"{runDirectory} has no {FileName}: the run has not finished; continue it with elmo train --resume {runDirectory}.");
        return JsonFiles.Read<TrainingResult>(path, $"Delete it and evaluate the run with elmo eval --model {runDirectory}.");
    }

    /// <summary>Writes DIR/result.json atomically.</summary>
    public void Write(string runDirectory) => AtomicFile.WriteAllText(PathIn(runDirectory), JsonSerializer.Serialize(this, Format));
}
