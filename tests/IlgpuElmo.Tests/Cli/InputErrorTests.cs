using IlgpuElmo.Tests.Model;

namespace IlgpuElmo.Tests.Cli;

/// <summary>Inputs that are not what a command needs: one error line naming the path and what to do, before any work.</summary>
public class InputErrorTests
{
    static (int Code, string Error, string Log) Elmo(params string[] args) => RunSafetyTests.Elmo(args);

    static void AssertRefused((int Code, string Error, string Log) r, string expected)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}; {r.Error}{r.Log}");
        Assert.Equal(expected, r.Error.TrimEnd('\n', '\r'));
    }

    [Fact]
    public void AFolderGivenForAFileIsNamedAsAFolder()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp);
        string folder = Path.Combine(temp.Path, "opts");
        Directory.CreateDirectory(folder);
        string run = Path.Combine(temp.Path, "run"), options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true).Save(options);
        AssertRefused(Elmo("train", "--train", corpus, "--options", folder, "--out", run),
            $"error: Options file '{folder}' is a folder; give the file itself, e.g. {Path.Combine(folder, "options.json")}.");
        Assert.False(Directory.Exists(run));
        AssertRefused(Elmo("train", "--train", corpus, "--options", options, "--vocab", folder, "--out", run),
            $"error: Vocabulary file '{folder}' is a folder; give the file itself, e.g. {Path.Combine(folder, "vocab.txt")}.");
        AssertRefused(Elmo("embed", "--options", folder, "--weights", folder, "--input", corpus, "--out", Path.Combine(temp.Path, "e.hdf5")),
            $"error: Options file '{folder}' is a folder; give the file itself, e.g. {Path.Combine(folder, "options.json")}.");
    }

    [Fact]
    public void AFolderGivenAsEmbedInputIsNamedAsAFolder()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp);
        string options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true).Save(options);
        string run = Path.Combine(temp.Path, "run");
        var trained = Elmo("train", "--train", corpus, "--options", options, "--min-count", "1", "--steps", "1", "--out", run);
        Assert.True(trained.Code == 0, trained.Error + trained.Log);
        string output = Path.Combine(temp.Path, "e.hdf5");
        AssertRefused(Elmo("embed", "--model", run, "--input", temp.Path, "--out", output),
            $"error: --input '{temp.Path}' is a folder; give the file itself, e.g. {Path.Combine(temp.Path, "sentences.txt")}.");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void AnUnwritableHomeNamesTheCorpusCacheAndWhatToSet()
    {
        using var temp = new TempDirectory();
        var environment = new Dictionary<string, string?> { ["HOME"] = "/proc", ["XDG_DATA_HOME"] = null };
        using var elmo = new ElmoProcess(temp.Path, environment, "train", "--steps", "1", "--out", "run");
        Assert.Equal(2, elmo.WaitForExit());
        Assert.Contains("error: cannot write the Brown corpus's text cache in /proc/.local/share/ilgpu-elmo/brown-v1 (", elmo.Stderr);
        Assert.Contains("set XDG_DATA_HOME (or HOME) to a writable folder, or give your own corpus (--train, --dev, --test).", elmo.Stderr);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "run")));
    }
}
