using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Formats;

namespace IlgpuElmo.Model;

/// <summary>
/// `elmo export`: a model as a folder that bilm-tf and allennlp read, and that nothing of the model is
/// lost from:
/// <list type="bullet">
/// <item>options.json: bilm-tf's keys only (char_cnn, lstm, and bilm-tf's training keys), with
/// char_cnn.n_characters 262 as bilm-tf and allennlp expect at inference.</item>
/// <item>weights.hdf5: exactly the datasets of <see cref="BilmWeightNames.Expected"/> (char CNN, highway,
/// projection or the word embedding table, both LSTM stacks with TensorFlow's names and gate order).</item>
/// <item>softmax.hdf5: our softmax head's weights under our parameter names (softmax/W [V, P] and
/// softmax/b [V] as in bilm-tf's training checkpoints for the full and sampled softmax; adaptive/... for
/// the adaptive one); row k is word k of vocab.txt. Published readers do not use a softmax.</item>
/// <item>vocab.txt: the vocabulary (the embedding table's and the softmax's rows).</item>
/// <item>elmo-options.json: the model's complete options with our own keys, as `elmo train` wrote them.</item>
/// </list>
/// </summary>
public static class PublishedExport
{
    public const string OptionsFile = "options.json", WeightsFile = "weights.hdf5", SoftmaxFile = "softmax.hdf5",
        VocabularyFile = "vocab.txt", FullOptionsFile = "elmo-options.json";

    /// <summary>Every file an export writes.</summary>
    public static readonly string[] Files = [OptionsFile, WeightsFile, SoftmaxFile, VocabularyFile, FullOptionsFile];

    /// <summary>bilm-tf's n_characters for inference: 261 character ids plus the masking id 0.</summary>
    const int InferenceCharacters = 262;

    /// <summary>Our options keys, which bilm-tf and allennlp do not know.</summary>
    static readonly string[] OwnKeys = ["softmax", "optimizer", "learning_rate", "initial_accumulator_value", "precision", "seed"];

    /// <summary>The files an export wrote, and one line per thing the published files cannot express.</summary>
    public sealed record Result(IReadOnlyList<string> Files, IReadOnlyList<string> LeftOut);

    /// <summary>
    /// Writes the export into <paramref name="folder"/> as a whole: every file goes into a staging folder beside
    /// it first (each file atomically), which is then renamed into place when the folder is new or empty, so a
    /// crash leaves either no export or a complete one (and at most a `.NAME.export-*` staging folder). Over an
    /// earlier export (the caller's --overwrite) the old folder is swapped out whole (see <see cref="Publish"/>;
    /// other files of the user's in it are kept, the export's then replaced file by file). A model without a
    /// trained softmax (published weights loaded without one) gets no softmax.hdf5, and a character model then
    /// no vocab.txt either (its vocabulary only names the softmax's rows).
    /// </summary>
    public static Result Write(BidirectionalLanguageModel model, string folder)
    {
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string parent = Path.GetDirectoryName(target) ?? throw new InputException($"{folder}: an export needs a folder, not a file system root.");
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.export-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var result = WriteFiles(model, staging);
            Publish(staging, target);
            return result;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    static Result WriteFiles(BidirectionalLanguageModel model, string folder)
    {
        var files = new List<string> { OptionsFile, WeightsFile };
        model.ExportPublished(Path.Combine(folder, WeightsFile));
        AtomicFile.WriteAllText(Path.Combine(folder, OptionsFile), PublishedOptions(model.Options).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (model.SoftmaxTrained)
        {
            model.ExportSoftmax(Path.Combine(folder, SoftmaxFile));
            files.Add(SoftmaxFile);
        }
        if (model.SoftmaxTrained || !model.Options.UsesCharacters)
        {
            model.Vocabulary.Save(Path.Combine(folder, VocabularyFile));
            files.Add(VocabularyFile);
        }
        AtomicFile.WriteAllText(Path.Combine(folder, FullOptionsFile), model.Options.ToJson());
        files.Add(FullOptionsFile);
        return new Result(files, LeftOut(model.Options, model.SoftmaxTrained));
    }

    /// <summary>
    /// Moves the staged export to <paramref name="target"/>: one folder rename where nothing is there yet; over a folder
    /// that holds only an earlier export, the old folder is renamed aside first and removed after (never a mix of the
    /// two); over one that also holds other files, file by file, keeping those files.
    /// </summary>
    static void Publish(string staging, string target)
    {
        var entries = Directory.Exists(target) ? Directory.GetFileSystemEntries(target).Select(Path.GetFileName).ToList() : null;
        if (entries is { Count: 0 }) Directory.Delete(target);
        if (entries is null or { Count: 0 })
        {
            Directory.Move(staging, target);
            return;
        }
        if (entries.All(name => Files.Contains(name)))
        {
            string replaced = staging + ".replaced";
            Directory.Move(target, replaced);
            Directory.Move(staging, target);
            Directory.Delete(replaced, recursive: true);
            return;
        }
        foreach (string name in Files)
        {
            string staged = Path.Combine(staging, name), published = Path.Combine(target, name);
            if (File.Exists(staged)) File.Move(staged, published, overwrite: true);
            else File.Delete(published);
        }
    }

    /// <summary>The softmax file beside a published weight file (an export's), or null when there is none.</summary>
    public static string? SoftmaxBeside(string weightsPath)
    {
        string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, SoftmaxFile);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The vocabulary file beside a published weight file, or null when there is none.</summary>
    public static string? VocabularyBeside(string weightsPath)
    {
        string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, VocabularyFile);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The options with bilm-tf's keys only.</summary>
    public static JsonObject PublishedOptions(BilmOptions options)
    {
        var json = JsonNode.Parse(options.ToJson())!.AsObject();
        foreach (var key in OwnKeys) json.Remove(key);
        if (json["char_cnn"] is JsonObject cnn) cnn["n_characters"] = InferenceCharacters;
        // bilm-tf's sample_softmax says sampled or full; an adaptive softmax has no bilm-tf spelling.
        if (options.EffectiveSoftmax.Kind == SoftmaxKind.Adaptive) json.Remove("sample_softmax");
        return json;
    }

    /// <summary>
    /// One line per thing the published options and weights leave out, saying where it is instead;
    /// <paramref name="softmaxTrained"/> false: that there is no softmax to export.
    /// </summary>
    public static IReadOnlyList<string> LeftOut(BilmOptions options, bool softmaxTrained = true)
    {
        var s = options.EffectiveSoftmax;
        var lines = new List<string>
        {
            softmaxTrained
                ? $"the softmax weights ({s.Kind.ToString().ToLowerInvariant()} softmax): published weight files have none; they are in {SoftmaxFile} (rows = {VocabularyFile})"
                : $"the model has no trained softmax (it was loaded from published weights without one): no {SoftmaxFile} is written, and `elmo eval` of this export refuses",
            "the optimizer state, the carried LSTM states and the data position: exported weights start no resumable run (use the run folder's checkpoint.bin)",
        };
        if (s.Kind == SoftmaxKind.Adaptive)
            lines.Add($"softmax kind adaptive (cutoffs {string.Join(",", s.Cutoffs)}, div_value {s.DivValue}): bilm-tf has only sample_softmax true/false; kept in {FullOptionsFile}");
        bool bilmTfOptimizer = options.Optimizer == OptimizerKind.Adagrad && options.EffectiveLearningRate == 0.2f && options.InitialAccumulatorValue == 1f;
        if (!bilmTfOptimizer)
            lines.Add($"optimizer {options.Optimizer.ToString().ToLowerInvariant()}, learning_rate {options.EffectiveLearningRate}, initial_accumulator_value {options.InitialAccumulatorValue}: bilm-tf always trains with Adagrad 0.2 / 1.0; kept in {FullOptionsFile}");
        if (options.Precision != Linalg.Precision.Fp32)
            lines.Add($"precision {options.Precision.ToString().ToLowerInvariant()}: kept in {FullOptionsFile}");
        lines.Add($"seed {options.Seed}: kept in {FullOptionsFile}");
        var lstm = options.Lstm;
        if (!lstm.Projects)
            lines.Add($"lstm.projection_dim {lstm.ProjectionDim} >= lstm.dim {lstm.Dim}: our LSTMs project anyway (W_P_0 [{lstm.Dim}, {lstm.ProjectionDim}] is in {WeightsFile}); " +
                "allennlp's Elmo reads that (it always projects), bilm-tf builds no projection then and does not");
        if (!lstm.UseSkipConnections && lstm.NLayers > 1)
            lines.Add("use_skip_connections false: bilm-tf honours it, but allennlp's Elmo always adds the residual around layers above the first, so its vectors would differ");
        if (!options.UsesCharacters)
            lines.Add("a word-input model: bilm-tf reads it (use_character_inputs=False, embedding_weight_file=weights.hdf5); allennlp's Elmo needs a char_cnn and cannot");
        return lines;
    }
}
