using System.IO.Compression;
using System.Text;

namespace IlgpuElmo.Data;

public enum CorpusSplit { Train, Dev, Test }

/// <summary>One sentence of the tagged Brown corpus: words and their tags, position by position.</summary>
public sealed record TaggedSentence(string[] Words, string[] Tags);

/// <summary>One of Brown's 500 files, with the split it belongs to.</summary>
public sealed record BrownFile(string Name, int Index, CorpusSplit Split, IReadOnlyList<TaggedSentence> Sentences);

/// <summary>
/// The Brown corpus shipped inside the library (see Data/Brown/NOTICE.md): the built-in default data for
/// training, and the part-of-speech tags for the probe. Split by file: index % 10 == 4 is dev,
/// index % 10 == 9 is test, the rest train.
/// </summary>
public static class BrownCorpus
{
    const string ResourceName = "IlgpuElmo.Data.Brown.brown-tagged.txt.gz";
    static readonly Lazy<IReadOnlyList<BrownFile>> files = new(Load);

    public static IReadOnlyList<BrownFile> Files => files.Value;

    public static CorpusSplit SplitOf(int fileIndex) => (fileIndex % 10) switch
    {
        4 => CorpusSplit.Dev,
        9 => CorpusSplit.Test,
        _ => CorpusSplit.Train,
    };

    public static IEnumerable<TaggedSentence> Sentences(CorpusSplit split) =>
        Files.Where(f => f.Split == split).SelectMany(f => f.Sentences);

    /// <summary>
    /// Brown's tag with the -tl (title), -hl (headline) and -nc (cited) markers removed, e.g.
    /// "nn-tl" -> "nn", "np$-hl" -> "np$"; compound tags ("ppss+md") and "fw-" foreign-word
    /// prefixes are kept: the probe's tag set is Brown's full tags without those three markers.
    /// </summary>
    public static string NormalizeTag(string tag)
    {
        string t = tag.ToLowerInvariant();
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var suffix in new[] { "-tl", "-hl", "-nc" })
                if (t.EndsWith(suffix, StringComparison.Ordinal) && t.Length > suffix.Length)
                {
                    t = t[..^suffix.Length];
                    changed = true;
                }
        }
        return t;
    }

    /// <summary>
    /// Writes the splits as plain text (one sentence per line, whitespace tokens: the training format)
    /// under <paramref name="directory"/>/{train,dev,test}/*.txt, once; returns the directory.
    /// </summary>
    public static string ExtractText(string directory)
    {
        string marker = Path.Combine(directory, ".complete");
        if (File.Exists(marker)) return directory;
        try
        {
            foreach (var file in Files)
            {
                string folder = Path.Combine(directory, file.Split.ToString().ToLowerInvariant());
                Directory.CreateDirectory(folder);
                var text = new StringBuilder();
                foreach (var s in file.Sentences) text.AppendJoin(' ', s.Words).Append('\n');
                AtomicFile.WriteAllText(Path.Combine(folder, file.Name + ".txt"), text.ToString());
            }
            AtomicFile.WriteAllText(marker, "brown-tagged.txt.gz v1\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(
                $"cannot write the Brown corpus's text cache in {directory} ({e.Message}); set XDG_DATA_HOME (or HOME) to a writable folder, or give your own corpus (--train, --dev, --test).", e);
        }
        return directory;
    }

    /// <summary>The default place the extracted text lives: a per-user cache folder ($XDG_DATA_HOME or ~/.local/share on Linux), created when extracted.</summary>
    public static string DefaultTextDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify) is { Length: > 0 } root
            ? root : Path.GetTempPath(), "ilgpu-elmo", "brown-v1");

    static IReadOnlyList<BrownFile> Load()
    {
        using var stream = typeof(BrownCorpus).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded Brown corpus ({ResourceName}) is missing from the build.");
        using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress), Encoding.ASCII);
        var result = new List<BrownFile>();
        string? name = null;
        var sentences = new List<TaggedSentence>();
        void Flush()
        {
            if (name is null) return;
            int index = result.Count;
            result.Add(new BrownFile(name, index, SplitOf(index), sentences));
            sentences = new List<TaggedSentence>();
        }
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush();
                name = line[3..];
                continue;
            }
            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var words = new string[tokens.Length];
            var tags = new string[tokens.Length];
            for (int i = 0; i < tokens.Length; i++)
            {
                int slash = tokens[i].LastIndexOf('/');
                words[i] = slash > 0 ? tokens[i][..slash] : tokens[i];
                tags[i] = slash > 0 ? tokens[i][(slash + 1)..] : "unk";
            }
            sentences.Add(new TaggedSentence(words, tags));
        }
        Flush();
        return result;
    }
}
