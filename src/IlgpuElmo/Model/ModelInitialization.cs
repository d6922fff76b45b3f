using IlgpuElmo.Data;
using IlgpuElmo.Formats;
using IlgpuElmo.Layers;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

/// <summary>
/// `elmo train --init DIR` / `--init-options F --init-weights F`: the model a run starts from instead of
/// random weights, either a run folder of `elmo train` or published weights (bilm-tf's layout, with an
/// export's softmax.hdf5 and vocab.txt beside them when they are there). Its options fix the
/// architecture (<see cref="TrainingOptions"/>); <see cref="Apply"/> copies its token encoder and LSTM
/// stacks into the new model, and its softmax when it has one of the new head's shapes over the same
/// vocabulary (the softmax rows are words, so another vocabulary means a fresh softmax).
/// </summary>
public sealed class ModelInitialization : IDisposable
{
    readonly ComputeDevice device;
    readonly BidirectionalLanguageModel initial;
    readonly WeightFile? softmaxFile;
    bool disposed;

    ModelInitialization(ComputeDevice device, BidirectionalLanguageModel initial, Vocabulary? vocabulary, WeightFile? softmaxFile, string source)
    {
        this.device = device;
        this.initial = initial;
        this.softmaxFile = softmaxFile;
        Vocabulary = vocabulary;
        Source = source;
    }

    /// <summary>The initial model's options: its architecture is the new model's.</summary>
    public BilmOptions Options => initial.Options;

    /// <summary>The initial model's vocabulary (its softmax rows, and a word-input model's embedding rows); null when unknown.</summary>
    public Vocabulary? Vocabulary { get; }

    /// <summary>Where the weights come from, for messages.</summary>
    public string Source { get; }

    /// <summary>
    /// The initial model named by `--init` (a run folder) or by `--init-options` with `--init-weights`;
    /// null when none is given.
    /// </summary>
    public static ModelInitialization? Open(ComputeDevice device, string? runFolder, string? optionsPath, string? weightsPath)
    {
        if (runFolder is not null)
        {
            if (optionsPath is not null || weightsPath is not null)
                throw new InputException("Give either --init DIR (a run folder) or --init-options with --init-weights, not both.");
            if (!Directory.Exists(runFolder) || !File.Exists(Path.Combine(runFolder, "options.json")))
                throw new InputException($"--init {runFolder}: not a run folder of `elmo train` (no options.json there); for published weights use --init-options and --init-weights.");
            var model = BidirectionalLanguageModel.Load(device, runFolder);
            return new ModelInitialization(device, model, model.Vocabulary, null, $"run folder {runFolder}");
        }
        if (optionsPath is null && weightsPath is null) return null;
        if (optionsPath is null || weightsPath is null)
            throw new InputException($"--init-options and --init-weights go together: {(optionsPath is null ? "--init-options" : "--init-weights")} is missing.");
        var (options, _) = BilmOptions.Load(optionsPath);
        var vocabulary = PublishedExport.VocabularyBeside(weightsPath) is { } vocabPath ? Vocabulary.Load(vocabPath) : null;
        if (!options.UsesCharacters && vocabulary is null)
            throw new InputException($"--init-weights {weightsPath}: a word-input model needs its vocabulary, the embedding's rows: put its {PublishedExport.VocabularyFile} beside the weight file.");
        var loaded = BidirectionalLanguageModel.LoadPublished(device, optionsPath, weightsPath, options.UsesCharacters ? null : vocabulary);
        try
        {
            var softmax = WeightFile.Open(PublishedExport.SoftmaxBeside(weightsPath) ?? weightsPath);
            return new ModelInitialization(device, loaded, vocabulary, softmax, weightsPath);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The vocabulary a word-input model must train with (its embedding rows), checked against
    /// `--vocab` when given; null for a character model, whose vocabulary is chosen as usual.
    /// </summary>
    public Vocabulary? FixedVocabulary(string? vocabOption)
    {
        if (Options.UsesCharacters) return null;
        if (vocabOption is not null && !Vocabulary.Load(vocabOption).Words.SequenceEqual(Vocabulary!.Words))
            throw new InputException($"--vocab {vocabOption} differs from the initial word-input model's vocabulary ({Vocabulary.Count} words, its embedding rows); drop --vocab.");
        return Vocabulary;
    }

    /// <summary>
    /// The new run's options: this model's architecture with the training settings of the options file
    /// <paramref name="optionsPath"/> when given (its architecture keys must match or be absent), else of
    /// the preset <paramref name="presetName"/> (see <see cref="InitialTrainingOptions"/>).
    /// </summary>
    public (BilmOptions Options, IReadOnlyList<string> Warnings) TrainingOptions(string? optionsPath, string presetName)
    {
        if (optionsPath is null)
            return InitialTrainingOptions.Merge(Options, ModelPresets.Get(presetName).ToJson(), $"preset {presetName}", checkArchitecture: false);
        InputFiles.RefuseFolder(optionsPath, "Options file", "options.json");
        if (!File.Exists(optionsPath)) throw new InputException($"Options file '{optionsPath}' does not exist. Check --options.");
        return InitialTrainingOptions.Merge(Options, File.ReadAllText(optionsPath), optionsPath, checkArchitecture: true);
    }

    /// <summary>
    /// Copies the encoder and LSTM stacks into <paramref name="target"/> (a shape mismatch is an error
    /// naming the dataset and both shapes), and the softmax when it fits; returns lines saying what was loaded.
    /// </summary>
    public IReadOnlyList<string> Apply(BidirectionalLanguageModel target)
    {
        var s = device.Stream;
        var from = initial.Encoder.Parameters.Concat(initial.Lstm.Parameters).ToDictionary(p => p.Name);
        foreach (var p in target.Encoder.Parameters.Concat(target.Lstm.Parameters))
        {
            var source = from.GetValueOrDefault(p.Name)
                ?? throw new InputException($"{Source}: the initial model has no '{p.Name}' (shape {p.Shape}); its options do not describe the model to train.");
            if (!source.Shape.Dims.SequenceEqual(p.Shape.Dims))
                throw new InputException($"{Source}: '{p.Name}' has shape {source.Shape} in the initial model but the model to train needs {p.Shape}.");
            p.Value.CopyFrom(s, source.Value.ToArray(s));
        }
        var lines = new List<string> { $"initial weights: token encoder and LSTM stacks from {Source}" };
        if (SoftmaxMismatch(target) is { } why)
        {
            lines.Add($"softmax: freshly initialised ({why})");
            return lines;
        }
        foreach (var p in target.Head.Parameters) p.Value.CopyFrom(s, ReadSoftmax(p));
        lines.Add($"softmax: loaded from {softmaxFile?.Path ?? Source} (the same {target.Vocabulary.Count}-word vocabulary)");
        return lines;
    }

    /// <summary>Why the initial model's softmax cannot start <paramref name="target"/>'s head, or null when it can.</summary>
    string? SoftmaxMismatch(BidirectionalLanguageModel target)
    {
        if (Vocabulary is null)
            return $"the initial weights come without a vocabulary: no {PublishedExport.VocabularyFile} beside them";
        if (!Vocabulary.Words.SequenceEqual(target.Vocabulary.Words))
            return $"the initial softmax is over another vocabulary ({Vocabulary.Count} words, this run's has {target.Vocabulary.Count}); train with --vocab set to the initial model's vocabulary to keep it";
        foreach (var p in target.Head.Parameters)
        {
            var shape = SoftmaxShapeOf(p.Name);
            if (shape is null)
                return $"the initial model has no '{p.Name}': no softmax, or another kind than this run's {target.Options.EffectiveSoftmax.Kind.ToString().ToLowerInvariant()} one";
            if (!shape.SequenceEqual(p.Shape.Dims.ToArray()))
                return $"the initial '{p.Name}' has shape {WeightFile.Format(shape)}, this run's head needs {p.Shape}";
        }
        return null;
    }

    int[]? SoftmaxShapeOf(string name) => softmaxFile is not null
        ? softmaxFile.ShapeOf(name)
        : initial.Head.Parameters.FirstOrDefault(p => p.Name == name)?.Shape.Dims.ToArray();

    float[] ReadSoftmax(Parameter p) => softmaxFile is not null
        ? softmaxFile.Read(p.Name, p.Shape.Dims.ToArray())
        : initial.Head.Parameters.First(q => q.Name == p.Name).Value.ToArray(device.Stream);

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        softmaxFile?.Dispose();
        initial.Dispose();
    }
}
