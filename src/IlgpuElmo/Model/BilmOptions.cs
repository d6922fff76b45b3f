using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Encoders;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Model;

/// <summary>Training loss over the vocabulary: the full softmax, bilm-tf's sampled softmax, or an adaptive softmax.</summary>
public enum SoftmaxKind { Full, Sampled, Adaptive }

public enum OptimizerKind { Adagrad, Adam }

/// <summary>bilm-tf's lstm block: cells of <see cref="Dim"/>, outputs projected to <see cref="ProjectionDim"/> when smaller.</summary>
/// <param name="CellClip">Clip of the memory cell to [-clip, clip]; null: none.</param>
/// <param name="ProjClip">Clip of the projected output; null: none.</param>
/// <param name="UseSkipConnections">Residual connection around every layer after the first.</param>
public sealed record LstmOptions(
    int Dim,
    int ProjectionDim,
    int NLayers,
    float? CellClip,
    float? ProjClip,
    bool UseSkipConnections)
{
    /// <summary>True when the cell output is projected (TensorFlow's LSTMCell num_proj; W_P_0 exists).</summary>
    public bool Projects => ProjectionDim < Dim;

    /// <summary>Width of each direction's layer output: projection_dim when projecting, else dim.</summary>
    public int OutputDim => Projects ? ProjectionDim : Dim;
}

/// <summary>Our softmax choice. Cutoffs and DivValue are for the adaptive softmax (cluster boundaries, shrink factor per cluster).</summary>
public sealed record SoftmaxOptions(SoftmaxKind Kind, IReadOnlyList<int> Cutoffs, float DivValue)
{
    /// <summary>True when every adaptive cutoff lies inside a vocabulary of <paramref name="vocabularySize"/> words (always for other kinds).</summary>
    public bool Fits(int vocabularySize) => Kind != SoftmaxKind.Adaptive || Cutoffs.All(c => c > 0 && c < vocabularySize);

    /// <summary>
    /// Adaptive cutoffs for a vocabulary of <paramref name="vocabularySize"/> words: those below it are kept
    /// (a prefix, so each cluster keeps its projection width); when none is, the head gets half the words.
    /// </summary>
    public SoftmaxOptions FitTo(int vocabularySize) => Fits(vocabularySize) ? this
        : this with { Cutoffs = Cutoffs.Where(c => c < vocabularySize).DefaultIfEmpty(Math.Max(1, vocabularySize / 2)).ToList() };
}

/// <summary>
/// A biLM's options as bilm-tf and allennlp write them (options.json beside a weight file), plus our
/// own training keys. Read with <see cref="Load"/>/<see cref="Parse"/>, which accept the published files
/// as they are; keys the reader does not know come back as warnings, invalid values are an
/// <see cref="InputException"/> naming the key.
/// </summary>
/// <remarks>
/// bilm-tf keys: char_cnn {embedding {dim}, filters [[width, count], ...], n_highway, n_characters,
/// max_characters_per_token, activation}; lstm {dim, projection_dim, n_layers, cell_clip, proj_clip,
/// use_skip_connections}; dropout, n_tokens_vocab, n_negative_samples_batch, unroll_steps, batch_size,
/// all_clip_norm_val, n_epochs, n_train_tokens, bidirectional, sample_softmax, share_embedding_softmax.
/// A model without char_cnn takes word ids (its token encoder is the `embedding` table).
/// Ours: softmax {kind "full"|"sampled"|"adaptive", cutoffs, div_value} (or just the kind as a string),
/// optimizer "adagrad"|"adam", learning_rate, learning_rate_schedule {warmup_steps, decay "constant"|"linear"|"cosine",
/// final_fraction}, initial_accumulator_value (Adagrad), precision "fp32"|"tf32", seed.
/// </remarks>
public sealed record BilmOptions(
    CharCnnOptions? CharCnn,
    LstmOptions Lstm,
    float Dropout = 0.1f,
    int? NTokensVocab = null,
    int NNegativeSamplesBatch = 8192,
    int UnrollSteps = 20,
    int BatchSize = 128,
    float AllClipNormVal = 10f,
    int NEpochs = 10,
    long? NTrainTokens = null,
    bool ShareEmbeddingSoftmax = false,
    SoftmaxOptions? Softmax = null,
    OptimizerKind Optimizer = OptimizerKind.Adagrad,
    float? LearningRate = null,
    float InitialAccumulatorValue = 1f,
    Precision Precision = Precision.Fp32,
    ulong Seed = 0,
    LearningRateSchedule? LearningRateSchedule = null)
{
    /// <summary>True for character-input models (char_cnn present); false for word-id models.</summary>
    public bool UsesCharacters => CharCnn is not null;

    /// <summary>Width P of the context-free token vectors (the token encoder's output, the LSTM's input).</summary>
    public int TokenDim => Lstm.ProjectionDim;

    /// <summary>The softmax in effect: given, or bilm-tf's default (sampled).</summary>
    public SoftmaxOptions EffectiveSoftmax => Softmax ?? new SoftmaxOptions(SoftmaxKind.Sampled, [], 4f);

    /// <summary>The learning rate in effect: given, or bilm-tf's Adagrad 0.2 / Adam's customary 0.001.</summary>
    public float EffectiveLearningRate => LearningRate ?? (Optimizer == OptimizerKind.Adagrad ? 0.2f : 0.001f);

    public static (BilmOptions Options, IReadOnlyList<string> Warnings) Load(string path)
    {
        InputFiles.RefuseFolder(path, "Options file", "options.json");
        if (!File.Exists(path)) throw new InputException($"Options file '{path}' does not exist. Check --options.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses options JSON; <paramref name="source"/> names the file in messages.</summary>
    public static (BilmOptions Options, IReadOnlyList<string> Warnings) Parse(string json, string source = "options")
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: JsonFiles.UserDocument);
        }
        catch (JsonException e)
        {
            throw JsonFiles.Error(source, e);
        }
        var reader = new OptionsReader(source);
        var options = reader.ReadRoot(root as JsonObject ?? throw new InputException($"{source}: expected a JSON object at the top level."));
        return (options, reader.Warnings);
    }

    /// <summary>These options as JSON with bilm-tf's key names (our keys beside them), readable by bilm-tf and allennlp.</summary>
    public string ToJson()
    {
        var o = new JsonObject();
        if (CharCnn is { } c)
        {
            var filters = new JsonArray();
            foreach (var f in c.Filters) filters.Add(new JsonArray(f.Width, f.Count));
            o["char_cnn"] = new JsonObject
            {
                ["embedding"] = new JsonObject { ["dim"] = c.EmbeddingDim },
                ["filters"] = filters,
                ["n_highway"] = c.NHighway,
                ["n_characters"] = c.NCharacters,
                ["max_characters_per_token"] = c.MaxCharactersPerToken,
                ["activation"] = c.Activation == CharActivation.Relu ? "relu" : "tanh",
            };
        }
        o["lstm"] = new JsonObject
        {
            ["dim"] = Lstm.Dim,
            ["projection_dim"] = Lstm.ProjectionDim,
            ["n_layers"] = Lstm.NLayers,
            ["cell_clip"] = Lstm.CellClip,
            ["proj_clip"] = Lstm.ProjClip,
            ["use_skip_connections"] = Lstm.UseSkipConnections,
        };
        o["bidirectional"] = true;
        o["dropout"] = Dropout;
        if (NTokensVocab is { } v) o["n_tokens_vocab"] = v;
        o["n_negative_samples_batch"] = NNegativeSamplesBatch;
        o["unroll_steps"] = UnrollSteps;
        o["batch_size"] = BatchSize;
        o["all_clip_norm_val"] = AllClipNormVal;
        o["n_epochs"] = NEpochs;
        if (NTrainTokens is { } t) o["n_train_tokens"] = t;
        o["share_embedding_softmax"] = ShareEmbeddingSoftmax;
        var s = EffectiveSoftmax;
        o["sample_softmax"] = s.Kind == SoftmaxKind.Sampled;
        var softmax = new JsonObject { ["kind"] = s.Kind.ToString().ToLowerInvariant() };
        if (s.Kind == SoftmaxKind.Adaptive)
        {
            softmax["cutoffs"] = new JsonArray(s.Cutoffs.Select(x => (JsonNode)x).ToArray());
            softmax["div_value"] = s.DivValue;
        }
        o["softmax"] = softmax;
        o["optimizer"] = Optimizer.ToString().ToLowerInvariant();
        o["learning_rate"] = EffectiveLearningRate;
        if (LearningRateSchedule is { } schedule)
            o["learning_rate_schedule"] = new JsonObject
            {
                ["warmup_steps"] = schedule.WarmupSteps,
                ["decay"] = schedule.Decay.ToString().ToLowerInvariant(),
                ["final_fraction"] = schedule.FinalFraction,
            };
        o["initial_accumulator_value"] = InitialAccumulatorValue;
        o["precision"] = Precision.ToString().ToLowerInvariant();
        o["seed"] = Seed;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> through <see cref="AtomicFile"/> (temporary file, flushed, renamed).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Walks the JSON tree, recording unknown keys and naming the key path in every error.</summary>
    sealed class OptionsReader(string source)
    {
        public List<string> Warnings { get; } = new();

        public BilmOptions ReadRoot(JsonObject root)
        {
            Known(root, "", "char_cnn", "lstm", "dropout", "n_tokens_vocab", "n_negative_samples_batch", "unroll_steps",
                "batch_size", "all_clip_norm_val", "n_epochs", "n_train_tokens", "bidirectional", "sample_softmax",
                "share_embedding_softmax", "softmax", "optimizer", "learning_rate", "learning_rate_schedule", "initial_accumulator_value", "precision", "seed");

            var charCnn = root["char_cnn"] is null ? null : ReadCharCnn(Object(root, "char_cnn", ""));
            var lstm = ReadLstm(root["lstm"] is null
                ? throw Error("lstm", "is missing; every biLM options file has an lstm block {dim, projection_dim, n_layers, ...}")
                : Object(root, "lstm", ""));

            if (Bool(root, "bidirectional") is false)
                throw Error("bidirectional", "is false; only bidirectional language models are supported");
            float dropout = Float(root, "dropout", 0.1f);
            if (dropout is < 0 or >= 1) throw Error("dropout", $"is {dropout}; it must be in [0, 1)");
            int? vocab = root["n_tokens_vocab"] is null ? null : Positive(root, "n_tokens_vocab", 0);
            if (charCnn is { } c && c.NFilters != lstm.ProjectionDim && c.NFilters < lstm.ProjectionDim)
                throw Error("char_cnn.filters",
                    $"add up to {c.NFilters} filters, fewer than lstm.projection_dim {lstm.ProjectionDim}; bilm-tf projects the filters down, never up");

            var softmax = ReadSoftmax(root, vocab);
            var optimizer = root["optimizer"] is null ? OptimizerKind.Adagrad : String(root, "optimizer", "") switch
            {
                "adagrad" => OptimizerKind.Adagrad,
                "adam" => OptimizerKind.Adam,
                var other => throw Error("optimizer", $"is '{other}'; use \"adagrad\" or \"adam\""),
            };
            float? learningRate = root["learning_rate"] is null ? null : Float(root, "learning_rate", 0);
            if (learningRate is <= 0) throw Error("learning_rate", $"is {learningRate}; it must be positive");
            var schedule = root["learning_rate_schedule"] is null ? null : ReadSchedule(Object(root, "learning_rate_schedule", ""));
            float accumulator = Float(root, "initial_accumulator_value", 1f);
            if (accumulator < 0) throw Error("initial_accumulator_value", $"is {accumulator}; it must be non-negative");
            var precision = root["precision"] is null ? Precision.Fp32 : String(root, "precision", "") switch
            {
                "fp32" or "float32" => Precision.Fp32,
                "tf32" => Precision.Tf32,
                var other => throw Error("precision", $"is '{other}'; use \"fp32\" or \"tf32\""),
            };
            long seed = Long(root, "seed", 0);
            if (seed < 0) throw Error("seed", $"is {seed}; it must be a non-negative integer");

            return new BilmOptions(
                charCnn, lstm, dropout, vocab,
                NNegativeSamplesBatch: Positive(root, "n_negative_samples_batch", 8192),
                UnrollSteps: Positive(root, "unroll_steps", 20),
                BatchSize: Positive(root, "batch_size", 128),
                AllClipNormVal: PositiveFloat(root, "all_clip_norm_val", 10f),
                NEpochs: Positive(root, "n_epochs", 10),
                NTrainTokens: root["n_train_tokens"] is null ? null : Long(root, "n_train_tokens", 0) is var n and > 0 ? n
                    : throw Error("n_train_tokens", "must be a positive integer"),
                ShareEmbeddingSoftmax: Bool(root, "share_embedding_softmax") ?? false,
                Softmax: softmax,
                Optimizer: optimizer,
                LearningRate: learningRate,
                InitialAccumulatorValue: accumulator,
                Precision: precision,
                Seed: (ulong)seed,
                LearningRateSchedule: schedule);
        }

        LearningRateSchedule ReadSchedule(JsonObject o)
        {
            const string p = "learning_rate_schedule.";
            Known(o, p, "warmup_steps", "decay", "final_fraction");
            int warmup = Int(o, "warmup_steps", 0, p);
            if (warmup < 0) throw Error(p + "warmup_steps", $"is {warmup}; it must be 0 or more");
            var decay = o["decay"] is null ? LearningRateDecay.Constant : String(o, "decay", p) switch
            {
                "constant" => LearningRateDecay.Constant,
                "linear" => LearningRateDecay.Linear,
                "cosine" => LearningRateDecay.Cosine,
                var other => throw Error(p + "decay", $"is '{other}'; use \"constant\", \"linear\" or \"cosine\""),
            };
            float final = Float(o, "final_fraction", 0f, p);
            if (final is < 0 or > 1) throw Error(p + "final_fraction", $"is {final}; it must be in [0, 1] (the last step's learning rate as a fraction of learning_rate)");
            return new LearningRateSchedule(warmup, decay, final);
        }

        CharCnnOptions ReadCharCnn(JsonObject o)
        {
            const string p = "char_cnn.";
            Known(o, p, "embedding", "filters", "n_highway", "n_characters", "max_characters_per_token", "activation");
            var embedding = o["embedding"] is null ? throw Error(p + "embedding", "is missing; give {\"dim\": N}") : Object(o, "embedding", p);
            Known(embedding, p + "embedding.", "dim");
            if (embedding["dim"] is null) throw Error(p + "embedding.dim", "is missing (16 in the published models)");
            int dim = Positive(embedding, "dim", 0, p + "embedding.");

            if (o["filters"] is not JsonArray filterArray || filterArray.Count == 0)
                throw Error(p + "filters", "must be a non-empty list of [width, count] pairs, e.g. [[1, 32], [2, 32], [3, 64]]");
            var filters = new List<CnnFilter>();
            for (int i = 0; i < filterArray.Count; i++)
            {
                if (filterArray[i] is not JsonArray pair || pair.Count != 2
                    || !TryInt(pair[0], out int width) || !TryInt(pair[1], out int count) || width <= 0 || count <= 0)
                    throw Error($"{p}filters[{i}]", $"is {filterArray[i]?.ToJsonString() ?? "null"}; each filter is [width, count] with positive integers");
                filters.Add(new CnnFilter(width, count));
            }

            int nHighway = o["n_highway"] is null ? 0 : Int(o, "n_highway", 0, p);
            if (nHighway < 0) throw Error(p + "n_highway", $"is {nHighway}; it must be 0 or more");
            if (o["n_characters"] is null) throw Error(p + "n_characters", "is missing; use 261 (training) or 262 (inference)");
            int nChars = Int(o, "n_characters", 0, p);
            if (nChars is not (261 or 262))
                throw Error(p + "n_characters", $"is {nChars}; bilm-tf's character ids need 261 (training) or 262 (inference, with the padding id)");
            if (o["max_characters_per_token"] is null) throw Error(p + "max_characters_per_token", "is missing (50 in the published models)");
            int maxChars = Int(o, "max_characters_per_token", 0, p);
            if (maxChars != Encoders.CharacterMapper.MaxCharacters)
                throw Error(p + "max_characters_per_token",
                    $"is {maxChars}; it must be {Encoders.CharacterMapper.MaxCharacters}, the characters per token ELMo's character ids have (as in every published model)");
            var activation = o["activation"] is null
                ? throw Error(p + "activation", "is missing; use \"relu\" or \"tanh\"")
                : String(o, "activation", p) switch
                {
                    "relu" => CharActivation.Relu,
                    "tanh" => CharActivation.Tanh,
                    var other => throw Error(p + "activation", $"is '{other}'; use \"relu\" or \"tanh\""),
                };
            return new CharCnnOptions(dim, filters, nHighway, nChars, maxChars, activation);
        }

        LstmOptions ReadLstm(JsonObject o)
        {
            const string p = "lstm.";
            Known(o, p, "dim", "projection_dim", "n_layers", "cell_clip", "proj_clip", "use_skip_connections");
            if (o["dim"] is null) throw Error(p + "dim", "is missing (the LSTM cell size, 4096 in the original ELMo)");
            if (o["projection_dim"] is null) throw Error(p + "projection_dim", "is missing (512 in the original ELMo)");
            int dim = Positive(o, "dim", 0, p), projection = Positive(o, "projection_dim", 0, p);
            int layers = Positive(o, "n_layers", 1, p);
            float? cellClip = OptionalClip(o, "cell_clip", p), projClip = OptionalClip(o, "proj_clip", p);
            bool skip = Bool(o, "use_skip_connections", p) ?? false;
            return new LstmOptions(dim, projection, layers, cellClip, projClip, skip);
        }

        SoftmaxOptions? ReadSoftmax(JsonObject root, int? vocab)
        {
            bool? sampleSoftmax = Bool(root, "sample_softmax");
            var node = root["softmax"];
            if (node is null)
                return sampleSoftmax is null ? null : new SoftmaxOptions(sampleSoftmax.Value ? SoftmaxKind.Sampled : SoftmaxKind.Full, [], 4f);
            JsonObject o;
            if (node is JsonValue) o = new JsonObject { ["kind"] = String(root, "softmax", "") };
            else o = Object(root, "softmax", "");
            const string p = "softmax.";
            Known(o, p, "kind", "cutoffs", "div_value");
            var kind = o["kind"] is null ? throw Error(p + "kind", "is missing; use \"full\", \"sampled\" or \"adaptive\"") : String(o, "kind", p) switch
            {
                "full" => SoftmaxKind.Full,
                "sampled" => SoftmaxKind.Sampled,
                "adaptive" => SoftmaxKind.Adaptive,
                var other => throw Error(p + "kind", $"is '{other}'; use \"full\", \"sampled\" or \"adaptive\""),
            };
            if (sampleSoftmax is { } sampled && sampled != (kind == SoftmaxKind.Sampled))
                throw Error("sample_softmax", $"is {(sampled ? "true" : "false")} but softmax.kind is \"{kind.ToString().ToLowerInvariant()}\"; drop one of them");
            var cutoffs = new List<int>();
            if (o["cutoffs"] is not null)
            {
                if (o["cutoffs"] is not JsonArray array) throw Error(p + "cutoffs", "must be a list of increasing word counts, e.g. [20000, 100000]");
                for (int i = 0; i < array.Count; i++)
                {
                    if (!TryInt(array[i], out int cut) || cut <= 0 || (cutoffs.Count > 0 && cut <= cutoffs[^1]))
                        throw Error($"{p}cutoffs[{i}]", $"is {array[i]?.ToJsonString() ?? "null"}; cutoffs are positive and strictly increasing");
                    if (vocab is { } v && cut >= v)
                        throw Error($"{p}cutoffs[{i}]", $"is {cut}, not below n_tokens_vocab {v}");
                    cutoffs.Add(cut);
                }
            }
            if (kind == SoftmaxKind.Adaptive && cutoffs.Count == 0)
                throw Error(p + "cutoffs", "is needed for the adaptive softmax, e.g. [20000, 100000]");
            float div = PositiveFloat(o, "div_value", 4f, p);
            return new SoftmaxOptions(kind, cutoffs, div);
        }

        void Known(JsonObject o, string prefix, params string[] keys)
        {
            foreach (var (key, _) in o)
                if (!keys.Contains(key))
                    Warnings.Add($"{source}: unknown key '{prefix}{key}' is ignored.");
        }

        JsonObject Object(JsonObject o, string key, string prefix) =>
            o[key] as JsonObject ?? throw Error(prefix + key, $"is {o[key]!.ToJsonString()}; expected an object {{...}}");

        int Int(JsonObject o, string key, int fallback, string prefix = "")
        {
            if (o[key] is null) return fallback;
            return TryInt(o[key], out int value) ? value : throw Error(prefix + key, $"is {o[key]!.ToJsonString()}; expected an integer");
        }

        int Positive(JsonObject o, string key, int fallback, string prefix = "")
        {
            int value = Int(o, key, fallback, prefix);
            return value > 0 ? value : throw Error(prefix + key, $"is {value}; it must be a positive integer");
        }

        long Long(JsonObject o, string key, long fallback)
        {
            if (o[key] is null) return fallback;
            if (o[key] is JsonValue v && v.TryGetValue(out long l)) return l;
            if (o[key] is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) < 9e18) return (long)x;
            throw Error(key, $"is {o[key]!.ToJsonString()}; expected an integer");
        }

        float Float(JsonObject o, string key, float fallback, string prefix = "")
        {
            if (o[key] is null) return fallback;
            if (o[key] is JsonValue v && v.TryGetValue(out double x) && double.IsFinite(x)) return (float)x;
            throw Error(prefix + key, $"is {o[key]!.ToJsonString()}; expected a number");
        }

        float PositiveFloat(JsonObject o, string key, float fallback, string prefix = "")
        {
            float value = Float(o, key, fallback, prefix);
            return value > 0 ? value : throw Error(prefix + key, $"is {value}; it must be positive");
        }

        float? OptionalClip(JsonObject o, string key, string prefix)
        {
            if (o[key] is null) return null;
            float value = Float(o, key, 0, prefix);
            return value > 0 ? value : throw Error(prefix + key, $"is {value}; a clip must be positive (or null for none)");
        }

        /// <summary>The key's value; null when absent or null.</summary>
        bool? Bool(JsonObject o, string key, string prefix = "")
        {
            if (o[key] is null) return null;
            if (o[key] is JsonValue v && v.TryGetValue(out bool b)) return b;
            throw Error(prefix + key, $"is {o[key]!.ToJsonString()}; expected true or false");
        }

        string String(JsonObject o, string key, string prefix)
        {
            if (o[key] is JsonValue v && v.TryGetValue(out string? s)) return s.Trim().ToLowerInvariant();
            throw Error(prefix + key, $"is {o[key]?.ToJsonString() ?? "null"}; expected a string");
        }

        static bool TryInt(JsonNode? node, out int value)
        {
            value = 0;
            if (node is not JsonValue v) return false;
            if (v.TryGetValue(out value)) return true;
            if (v.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue)
            {
                value = (int)x;
                return true;
            }
            return false;
        }

        InputException Error(string key, string problem) => new($"{source}: '{key}' {problem}.");
    }
}
