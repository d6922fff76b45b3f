namespace IlgpuElmo.Training;

/// <summary>
/// What continuing a run is asked for (`elmo train --resume DIR`): a new step target, or the previous
/// checkpoint when the latest is damaged. The options, vocabulary, corpora and seed, when given, must be
/// the run's own: a run continues with what it recorded (training a model further on other text is a new
/// run started from it, <see cref="NewRunRequest.InitFrom"/>).
/// </summary>
public sealed record ResumeRequest(string Folder)
{
    /// <summary>A new step target; overrides <see cref="Epochs"/>. With neither, the recorded target.</summary>
    public long? Steps { get; init; }

    /// <summary>A new target in passes over the training corpus.</summary>
    public double? Epochs { get; init; }

    /// <summary>Continue from checkpoint.previous.bin (setting a damaged checkpoint.bin aside).</summary>
    public bool FromPrevious { get; init; }

    /// <summary>An options file that must equal the run's options.json.</summary>
    public string? Options { get; init; }

    /// <summary>A vocabulary file that must equal the run's vocab.txt.</summary>
    public string? Vocabulary { get; init; }

    /// <summary>A training corpus that must expand to the run's recorded files.</summary>
    public string? Train { get; init; }

    /// <summary>A held-out corpus that must expand to the run's recorded files.</summary>
    public string? Dev { get; init; }

    /// <summary>A test corpus that must expand to the run's recorded files.</summary>
    public string? Test { get; init; }

    /// <summary>A seed that must be the run's.</summary>
    public ulong? Seed { get; init; }
}
