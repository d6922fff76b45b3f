using System.Text.Json;

namespace IlgpuElmo.Data;

/// <summary>JSON files the user's runs depend on (run.json, options.json): bad JSON is an error naming the file and the line.</summary>
public static class JsonFiles
{
    /// <summary>Options files as users write them: comments and trailing commas allowed, a key given twice an error (not last-one-wins).</summary>
    public static readonly JsonDocumentOptions UserDocument = new()
    {
        AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, AllowDuplicateProperties = false,
    };

    static readonly JsonSerializerOptions Strict = new() { AllowDuplicateProperties = false };

    /// <summary>Reads <paramref name="path"/> as <typeparamref name="T"/>; <paramref name="remedy"/> ends the message of a damaged file.</summary>
    public static T Read<T>(string path, string remedy)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Strict)
                ?? throw new InputException($"{path}: holds null instead of a JSON object. {remedy}");
        }
        catch (JsonException e)
        {
            throw Error(path, e, remedy);
        }
    }

    /// <summary>"FILE line N: not valid JSON (what the parser saw). REMEDY"</summary>
    public static InputException Error(string source, JsonException e, string remedy = "")
    {
        string what = e.Message;
        int cut = what.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = what.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        if (cut > 0) what = what[..cut].TrimEnd('.', ' ');
        string line = e.LineNumber is long n ? $" line {n + 1}" : "";
        return new InputException($"{source}{line}: not valid JSON ({what}).{(remedy.Length > 0 ? " " + remedy : "")}", e);
    }
}
