using IlgpuElmo.Data;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

public sealed partial class BidirectionalLanguageModel
{
    /// <summary>
    /// Opens a run folder written by `elmo train` (options.json, vocab.txt, checkpoint.bin) with its
    /// latest checkpoint's weights.
    /// </summary>
    public static BidirectionalLanguageModel Load(ComputeDevice device, string runDirectory)
    {
        if (!Directory.Exists(runDirectory))
            throw new InputException($"--model {runDirectory}: no such folder; give the folder `elmo train` wrote (or --options and --weights for published weights).");
        string optionsPath = Path.Combine(runDirectory, "options.json");
        if (!File.Exists(optionsPath))
            throw new InputException($"--model {runDirectory}: there is no options.json; give the folder `elmo train` wrote.");
        var (options, _) = BilmOptions.Load(optionsPath);
        var vocabulary = Vocabulary.Load(Path.Combine(runDirectory, "vocab.txt"));
        var model = new BidirectionalLanguageModel(device, options, vocabulary);
        try
        {
            var (position, tensors) = Checkpoint.Load(runDirectory);
            Checkpoint.CheckOwner(Checkpoint.LatestPathIn(runDirectory), position, RunSettings.ReadRunId(runDirectory));
            Checkpoint.Restore(Checkpoint.LatestPathIn(runDirectory), device.Stream, tensors, model.Parameters.Select(p => (p.Name, p.Value)));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}

public sealed partial class BidirectionalLanguageModel
{
    /// <summary>
    /// A model from published weights: an options JSON and an HDF5 weight file in bilm-tf's layout (as
    /// allennlp and bilm-tf publish them; see <see cref="BilmWeightNames"/>). The softmax is
    /// not in published files; when <paramref name="softmaxPath"/> (an export's softmax.hdf5) or the
    /// weight file itself holds every dataset of this head with its shape, it is loaded too, otherwise
    /// the head stays untrained and only embedding is meaningful; with <paramref name="requireSoftmax"/>
    /// (perplexity) a missing vocabulary or softmax is an error instead. A word-input model needs
    /// <paramref name="vocabulary"/> (its embedding rows are its words); a character model may take
    /// none (embedding needs no vocabulary).
    /// </summary>
    public static BidirectionalLanguageModel LoadPublished(ComputeDevice device, string optionsPath, string weightsPath, Vocabulary? vocabulary = null,
        string? softmaxPath = null, bool requireSoftmax = false)
    {
        var (options, _) = BilmOptions.Load(optionsPath);
        using var file = Formats.WeightFile.Open(weightsPath);
        BilmWeightNames.Check(file, options);
        if (vocabulary is null)
        {
            if (requireSoftmax)
                throw new InputException(
                    $"{weightsPath}: perplexity needs the vocabulary the softmax was trained with (its rows) and there is no {PublishedExport.VocabularyFile} beside the weights; give --vocab.");
            if (!options.UsesCharacters)
                throw new InputException($"{weightsPath}: a word-input model needs its vocabulary (--vocab), whose lines are the embedding's rows.");
            vocabulary = new Vocabulary([Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk]);
            // No vocabulary, no trained softmax to load: an exact head of the right shape keeps the model whole.
            options = options with { Softmax = new SoftmaxOptions(SoftmaxKind.Full, [], 4f) };
        }
        var model = new BidirectionalLanguageModel(device, options with { NTokensVocab = vocabulary.Count }, vocabulary);
        try
        {
            model.Initialize(options.Seed);
            foreach (var p in model.Encoder.Parameters.Concat(model.Lstm.Parameters))
                p.Value.CopyFrom(device.Stream, ReadParameter(file, p));
            // The softmax rows are words of a vocabulary: without a softmax of this head's shapes, the head
            // stays as initialised (embedding does not use it).
            using var softmaxFile = softmaxPath is null ? null : Formats.WeightFile.Open(softmaxPath);
            var trained = new[] { softmaxFile, file }.FirstOrDefault(source => source is not null && model.Head.Parameters.All(p => HasShape(source, p)));
            if (trained is not null)
                foreach (var p in model.Head.Parameters) p.Value.CopyFrom(device.Stream, ReadParameter(trained, p));
            else if (requireSoftmax)
                throw NoTrainedSoftmax(model, optionsPath, weightsPath, softmaxPath);
            model.SoftmaxTrained = trained is not null;
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>What is missing when published weights have no softmax of the head their options and vocabulary give.</summary>
    static InputException NoTrainedSoftmax(BidirectionalLanguageModel model, string optionsPath, string weightsPath, string? softmaxPath)
    {
        string expected = string.Join(", ", model.Head.Parameters.Select(p => $"{p.Name} [{string.Join(", ", p.Shape.Dims.ToArray())}]"));
        string fullOptions = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, PublishedExport.FullOptionsFile);
        string hint = File.Exists(fullOptions) && Path.GetFullPath(optionsPath) != fullOptions
            ? $" {optionsPath} is bilm-tf's options, without the softmax's kind: give the export's complete options, --options {fullOptions}."
            : " Published bilm-tf weights have no softmax; an `elmo export` has it in softmax.hdf5.";
        return new InputException(
            $"{softmaxPath ?? weightsPath}: no trained softmax of the shapes this model needs ({expected}), so no perplexity can be computed.{hint}");
    }

    /// <summary>
    /// Writes the token encoder and both LSTM stacks in bilm-tf's layout (atomically): the datasets of
    /// <see cref="BilmWeightNames.Expected"/>, readable by allennlp's Elmo, bilm-tf and
    /// <see cref="LoadPublished"/>. When the filters add up to the token width bilm-tf has no CNN_proj,
    /// but allennlp's Elmo always reads one: an identity projection (zero bias) is added for it, which
    /// changes nothing. The softmax is not part of the layout: <see cref="ExportSoftmax"/>.
    /// </summary>
    public void ExportPublished(string weightsPath)
    {
        using var writer = new Formats.Hdf5Writer(weightsPath);
        foreach (var p in Encoder.Parameters.Concat(Lstm.Parameters)) Add(writer, p);
        if (Options.CharCnn is { } cnn && cnn.NFilters == Options.TokenDim)
        {
            int f = cnn.NFilters;
            var identity = new float[f * f];
            for (int i = 0; i < f; i++) identity[i * f + i] = 1f;
            writer.Add(BilmWeightNames.ProjectionWeight, identity, [f, f]);
            writer.Add(BilmWeightNames.ProjectionBias, new float[f], [f]);
        }
        writer.Commit();
    }

    /// <summary>Writes the softmax head's weights (atomically) under their parameter names: softmax/W [V, P] and softmax/b [V], or adaptive/....</summary>
    public void ExportSoftmax(string path)
    {
        using var writer = new Formats.Hdf5Writer(path);
        foreach (var p in Head.Parameters) Add(writer, p);
        writer.Commit();
    }

    static bool HasShape(Formats.WeightFile file, Layers.Parameter p) => file.ShapeOf(p.Name)?.SequenceEqual(p.Shape.Dims.ToArray()) == true;

    void Add(Formats.Hdf5Writer writer, Layers.Parameter p)
    {
        var data = p.Value.ToArray(device.Stream);
        if (p.Name == BilmWeightNames.CharEmbedding)
        {
            // Our table has a zero row 0 for the masking id; the published one starts at id 1.
            int d = p.Shape[1];
            writer.Add(p.Name, data.AsSpan(d), [p.Shape[0] - 1, d]);
        }
        else writer.Add(p.Name, data, p.Shape.Dims.ToArray());
    }

    static float[] ReadParameter(Formats.WeightFile file, Layers.Parameter p)
    {
        if (p.Name != BilmWeightNames.CharEmbedding) return file.Read(p.Name, p.Shape.Dims.ToArray());
        int rows = p.Shape[0], d = p.Shape[1];
        var stored = file.Read(p.Name, rows - 1, d);
        var table = new float[rows * d];
        stored.CopyTo(table, d);
        return table;
    }
}
