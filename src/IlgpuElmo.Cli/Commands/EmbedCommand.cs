using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Formats;
using IlgpuElmo.Layers;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo embed`: contextual vectors for every line of a file, in bilm-tf's dump_bilm_embeddings layout
/// (one dataset per line, named by its index, [n_layers + 1, n_tokens, 2P]) or reduced (top layer,
/// average, a given scalar mix, mean-pooled sentence vectors), float32 or float16.
/// </summary>
static class EmbedCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var model = new ModelArguments();
        var input = new Option<string>("--input") { Description = "Text file: one sentence per line, whitespace tokens", Required = true };
        var output = new Option<string>("--out") { Description = "HDF5 file to write (an existing file only with --overwrite)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out if it exists" };
        var layers = new Option<string>("--layers") { Description = "all | top | average", DefaultValueFactory = _ => "all" };
        var mix = new Option<string?>("--scalar-mix") { Description = "Comma-separated weights, one per layer (token layer first): store gamma * sum_l w_l h_l" };
        var gamma = new Option<float>("--gamma") { Description = "Scale for --scalar-mix", DefaultValueFactory = _ => 1f };
        var meanPool = new Option<bool>("--mean-pool") { Description = "One vector per line: the mean over its tokens (NaN for an empty line, with a warning naming it)" };
        var float16 = new Option<bool>("--float16") { Description = "Store float16 (half the size)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Sentences per batch", DefaultValueFactory = _ => 64 };
        var tokenCache = new Option<string?>("--token-cache") { Description = "Token vectors from `elmo dump-token-embeddings` for the words of --vocab: look layer 0 up instead of running the char CNN" };
        var stateful = new Option<bool>("--stateful") { Description = "bilm-tf/allennlp inference mode: file order, each batch row's LSTM states carry to the same row of the next batch" };
        var command = new Command("embed", "Write contextual embeddings (all biLM layers) for every line of a file");
        foreach (var o in new Option[] { input, output, overwrite, layers, mix, gamma, meanPool, float16, batchSize, stateful, tokenCache }) command.Options.Add(o);
        model.AddTo(command);
        device.AddTo(command);
        command.SetAction(result =>
        {
            var inputs = model.Inputs(result).Append(new("--input", result.GetValue(input)!));
            if (result.GetValue(tokenCache) is { } cache) inputs = inputs.Append(new("--token-cache", cache));
            OutputPaths.CheckFile(result.GetValue(output)!, "--out", "embeddings.hdf5", result.GetValue(overwrite), inputs);
            OptionChecks.AtLeast(result.GetValue(batchSize), 1, "--batch-size");
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            dev.MemoryHint = "lower --batch-size";
            using var lm = model.Open(result, dev);
            if (result.GetValue(tokenCache) is { } cachePath)
            {
                string words = result.GetValue(model.Vocab) ?? throw new InputException("--token-cache needs --vocab: the word list the token vectors were dumped for, one per line.");
                lm.TokenCache = Encoders.TokenVectorCache.Load(dev, cachePath, File.ReadLines(words).Select(l => l.Trim()).Where(l => l.Length > 0).ToList(), lm.Options.TokenDim);
            }
            var kind = result.GetValue(mix) is not null ? EmbeddingLayers.Mix : result.GetValue(layers) switch
            {
                "all" => EmbeddingLayers.All,
                "top" => EmbeddingLayers.Top,
                "average" => EmbeddingLayers.Average,
                var other => throw new InputException($"--layers '{other}': use all, top or average (or --scalar-mix)."),
            };
            var weights = result.GetValue(mix)?.Split(',').Select(w => float.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out float x)
                ? x : throw new InputException($"--scalar-mix: '{w}' is not a number.")).ToList();
            var spec = new EmbeddingOutput(kind, weights, result.GetValue(gamma), result.GetValue(meanPool),
                result.GetValue(float16) ? Hdf5Storage.Float16 : Hdf5Storage.Float32);
            var lines = ReadInput(result.GetValue(input)!);
            if (spec.MeanPool) WarnEmptyLines(lines, result.GetValue(input)!);
            var stats = ConsoleProgress.Run("embed", "tokens", lines.Sum(l => (long)l.Length),
                progress => Run(dev, lm, lines, result.GetValue(output)!, spec, result.GetValue(batchSize), result.GetValue(stateful), progress));
            Console.WriteLine($"{stats.Sentences} lines, {stats.Tokens} tokens in {stats.Seconds:F1} s ({stats.Sentences / stats.Seconds:F1} sentences/s, {stats.Tokens / stats.Seconds:F0} tokens/s) -> {result.GetValue(output)}");
            return 0;
        });
        return command;
    }

    public sealed record EmbedStats(int Sentences, long Tokens, double Seconds);

    /// <summary>
    /// Embeds every line (tokenized, see <see cref="ReadInput"/>) into <paramref name="outputPath"/>;
    /// <paramref name="progress"/> hears the tokens done so far after every batch.
    /// </summary>
    public static EmbedStats Run(ComputeDevice device, BidirectionalLanguageModel model, string[][] lines, string outputPath,
        EmbeddingOutput spec, int batchSize, bool stateful, IProgress<long>? progress = null)
    {
        if (batchSize < 1) throw new InputException($"--batch-size must be at least 1 (got {batchSize}).");
        spec.Validate(model.LayerCount);
        long tokensDone = 0;
        var watch = Stopwatch.StartNew();
        using var writer = new EmbeddingsWriter(outputPath, lines.Select(l => l.Length).ToArray(), model.LayerCount, model.Width, spec);
        // Stateful: file order, fixed rows. Otherwise: sorted by length so a batch wastes little padding.
        var order = Enumerable.Range(0, lines.Length).ToArray();
        if (!stateful) order = order.OrderBy(i => lines[i].Length).ToArray();
        using var state = stateful ? model.Lstm.CreateState(batchSize) : null;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var indices = order.Skip(start).Take(batchSize).ToArray();
            if (!stateful) indices = indices.Where(i => lines[i].Length > 0).ToArray();
            var vectors = indices.Length == 0 ? [] : model.Embed(indices.Select(i => lines[i]).ToList(), state);
            for (int j = 0; j < indices.Length; j++) writer.Write(indices[j], vectors[j]);
            tokensDone += indices.Sum(i => (long)lines[i].Length);
            progress?.Report(tokensDone);
        }
        for (int i = 0; i < lines.Length; i++)
            if (lines[i].Length == 0 && !stateful) writer.Write(i, []);
        writer.Commit();
        return new EmbedStats(lines.Length, lines.Sum(l => (long)l.Length), watch.Elapsed.TotalSeconds);
    }

    /// <summary>An empty line has no mean over its tokens: its --mean-pool vector is NaN, which the user is told of with the first few lines.</summary>
    static void WarnEmptyLines(string[][] lines, string path)
    {
        var empty = Enumerable.Range(0, lines.Length).Where(i => lines[i].Length == 0).ToList();
        if (empty.Count > 0)
            Console.Error.WriteLine($"warning: {empty.Count} line(s) have no tokens (e.g. {string.Join(", ", empty.Take(5).Select(i => $"{path}:{i + 1}"))}); " +
                "with --mean-pool their vectors are NaN.");
    }

    /// <summary>
    /// The input file's lines as whitespace tokens (blank lines kept: dataset i is line i); a missing file
    /// or a giant token is an input error. Lines that are not valid UTF-8 are kept with U+FFFD for the bad
    /// bytes, and counted in a warning that names the first few.
    /// </summary>
    public static string[][] ReadInput(string path)
    {
        InputFiles.RefuseFolder(path, "--input", "sentences.txt");
        if (!File.Exists(path)) throw new InputException($"--input '{path}' does not exist.");
        var lines = new List<string[]>();
        var invalid = new List<int>();
        foreach (var (number, bytes) in TextLines.Read(path))
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
            if (!System.Text.Unicode.Utf8.IsValid(span)) invalid.Add(number);
            var tokens = System.Text.Encoding.UTF8.GetString(span).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            foreach (var t in tokens)
                if (System.Text.Encoding.UTF8.GetByteCount(t) > 10_000)
                    throw new InputException($"{path} line {number}: a token of over 10,000 bytes; is this a text file of sentences?");
            lines.Add(tokens);
        }
        if (invalid.Count > 0)
            Console.Error.WriteLine($"warning: {invalid.Count} line(s) are not valid UTF-8 (e.g. {string.Join(", ", invalid.Take(5).Select(n => $"{path}:{n}"))}); " +
                "their invalid bytes were embedded as U+FFFD.");
        return lines.ToArray();
    }
}
