namespace IlgpuElmo.Training;

/// <summary>
/// What a new training run is asked for: what `elmo train` takes without --resume. Corpora are files,
/// folders or patterns (<see cref="CorpusFiles"/>); with no <see cref="Train"/> the shipped Brown
/// corpus is used, its dev and test splits too unless given.
/// </summary>
public sealed record NewRunRequest
{
    /// <summary>The training corpus; null: Brown's train split.</summary>
    public string? Train { get; init; }

    /// <summary>Held-out corpus for perplexity while training; null: Brown's dev split, or none with <see cref="Train"/>.</summary>
    public string? Dev { get; init; }

    /// <summary>Corpus for the final perplexity; null: Brown's test split, or none with <see cref="Train"/>.</summary>
    public string? Test { get; init; }

    /// <summary>A vocabulary file; null: built from the training corpus, keeping words seen <see cref="MinCount"/> times.</summary>
    public string? Vocabulary { get; init; }

    public int MinCount { get; init; } = 3;

    /// <summary>An options JSON file; null: the <see cref="Preset"/>.</summary>
    public string? Options { get; init; }

    /// <summary>A built-in options set (<see cref="Model.ModelPresets"/>); null: the device's default.</summary>
    public string? Preset { get; init; }

    /// <summary>The run folder; null: runs/yyyyMMdd-HHmmss (with a suffix when taken).</summary>
    public string? Folder { get; init; }

    /// <summary>Replace the run in <see cref="Folder"/> (its checkpoints and metrics are deleted).</summary>
    public bool Overwrite { get; init; }

    /// <summary>Training steps; overrides <see cref="Epochs"/>. With neither, the options' n_epochs.</summary>
    public long? Steps { get; init; }

    /// <summary>Passes over the training corpus.</summary>
    public double? Epochs { get; init; }

    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Steps between held-out perplexity reports (and at the end).</summary>
    public int EvalEvery { get; init; } = 400;

    /// <summary>The random seed; null: the options' seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Start from the weights of this run folder (its options fix the architecture).</summary>
    public string? InitFrom { get; init; }

    /// <summary>Start from published weights: their options.json, with <see cref="InitWeights"/>.</summary>
    public string? InitOptions { get; init; }

    /// <summary>Start from published weights: weights.hdf5 in bilm-tf's layout, with <see cref="InitOptions"/>.</summary>
    public string? InitWeights { get; init; }

    /// <summary>Train only the LSTMs and the softmax; the token encoder keeps its initial weights.</summary>
    public bool Freeze { get; init; }
}
