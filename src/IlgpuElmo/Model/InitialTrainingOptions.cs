using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;

namespace IlgpuElmo.Model;

/// <summary>
/// The options of a run that starts from an initial model (`elmo train --init`): the architecture
/// (char_cnn, lstm) is the initial model's, every other key (batch_size, unroll_steps, dropout,
/// learning_rate, optimizer, softmax, ...) comes from the training settings: an options file or a
/// preset. An options file may repeat the architecture keys only with the initial model's values (a
/// different one is an error naming the key); char_cnn.n_characters is not compared, since 261
/// (training) and 262 (inference) describe the same weights. n_tokens_vocab is the vocabulary's, as in
/// every run.
/// </summary>
public static class InitialTrainingOptions
{
    static readonly string[] ArchitectureKeys = ["char_cnn", "lstm"];

    /// <param name="initial">The initial model's options.</param>
    /// <param name="settingsJson">Options JSON giving the training settings.</param>
    /// <param name="source">Names the settings in messages (the --options file, or the preset).</param>
    /// <param name="checkArchitecture">True for a user's options file (its architecture keys must match or be
    /// absent); false for a preset, whose architecture is simply replaced.</param>
    public static (BilmOptions Options, IReadOnlyList<string> Warnings) Merge(BilmOptions initial, string settingsJson, string source, bool checkArchitecture)
    {
        JsonObject settings;
        try
        {
            settings = JsonNode.Parse(settingsJson, documentOptions: JsonFiles.UserDocument) as JsonObject
                ?? throw new InputException($"{source}: expected a JSON object at the top level.");
        }
        catch (JsonException e)
        {
            throw JsonFiles.Error(source, e);
        }
        var architecture = JsonNode.Parse(initial.ToJson())!.AsObject();
        foreach (var key in ArchitectureKeys)
        {
            if (checkArchitecture && settings[key] is { } given) Compare(given, architecture[key], key, source);
            settings.Remove(key);
            if (architecture[key] is { } fixedValue) settings[key] = fixedValue.DeepClone();
        }
        settings.Remove("n_tokens_vocab");
        return BilmOptions.Parse(settings.ToJsonString(), source);
    }

    static void Compare(JsonNode? given, JsonNode? initial, string key, string source)
    {
        if (given is JsonObject g && initial is JsonObject i)
        {
            foreach (var (sub, value) in g)
                if (key != "char_cnn" || sub != "n_characters") Compare(value, i[sub], $"{key}.{sub}", source);
            return;
        }
        if (!SameValue(given, initial))
            throw new InputException(
                $"{source}: '{key}' is {given?.ToJsonString() ?? "null"} but the initial model's is {initial?.ToJsonString() ?? "absent"}; " +
                "the initial model fixes the architecture: drop the key from the options or give the initial model's value.");
    }

    static bool SameValue(JsonNode? a, JsonNode? b) => (a, b) switch
    {
        (null, null) => true,
        (JsonArray x, JsonArray y) => x.Count == y.Count && x.Zip(y).All(pair => SameValue(pair.First, pair.Second)),
        (JsonValue x, JsonValue y) when x.TryGetValue(out double dx) && y.TryGetValue(out double dy) => (float)dx == (float)dy,
        (JsonValue x, JsonValue y) => string.Equals(x.ToJsonString().Trim('"').Trim(), y.ToJsonString().Trim('"').Trim(), StringComparison.OrdinalIgnoreCase),
        _ => false,
    };
}
