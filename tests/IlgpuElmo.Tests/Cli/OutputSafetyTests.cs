namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// The commands other than `train` never write over a run, an export or their own input: each case of
/// issue 25 as the user typed it, checked for its one error line and for the files being byte-identical.
/// </summary>
public class OutputSafetyTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    static (int Code, string Error, string Log) Elmo(params string[] args) => RunSafetyTests.Elmo(args);

    static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    static void AssertUnchanged(Dictionary<string, byte[]> before, string folder)
    {
        var after = Snapshot(folder);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    static void AssertRefused((int Code, string Error, string Log) r, params string[] parts)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}; {r.Error}{r.Log}");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", r.Error);
        foreach (var part in parts) Assert.Contains(part, r.Error);
    }

    static void AssertSucceeds((int Code, string Error, string Log) r) => Assert.True(r.Code == 0, r.Error + r.Log);

    [Fact]
    public void ExportNeverReplacesARunItsOwnModelOrAnotherFolder()
    {
        using var temp = new TempDirectory();
        string other = finished.CopyTo(temp.Path);
        var before = Snapshot(other);
        AssertRefused(Elmo("export", "--model", finished.Folder, "--out", other), $"--out {other} holds a run of `elmo train`", "new or empty folder");
        AssertRefused(Elmo("export", "--model", finished.Folder, "--out", other, "--overwrite"), $"--out {other} holds a run");
        AssertRefused(Elmo("export", "--model", other, "--out", other), $"--out {other} holds an input of this export (--model {other})");
        AssertUnchanged(before, other);
        AssertSucceeds(Elmo("train", "--resume", other, "--steps", "5"));

        string export = Path.Combine(temp.Path, "export");
        AssertSucceeds(Elmo("export", "--model", finished.Folder, "--out", export));
        var exported = Snapshot(export);
        AssertRefused(Elmo("export", "--model", other, "--out", export), $"--out {export} holds an export", "--overwrite");
        AssertUnchanged(exported, export);
        AssertSucceeds(Elmo("export", "--model", other, "--out", export, "--overwrite"));
        Assert.False(exported["weights.hdf5"].AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(export, "weights.hdf5"))), "the export was not replaced");

        string notes = temp.File("mine/notes.txt", "keep");
        AssertRefused(Elmo("export", "--model", finished.Folder, "--out", Path.GetDirectoryName(notes)!, "--overwrite"), "is not empty (notes.txt)");
        Assert.Equal(["notes.txt"], Directory.GetFiles(Path.GetDirectoryName(notes)!).Select(Path.GetFileName));
    }

    [Fact]
    public void AnOutputIsNeverTheCommandsInputWithOrWithoutOverwrite()
    {
        using var temp = new TempDirectory();
        string sentences = temp.File("s.txt", "the cat sat .\n");
        AssertRefused(Elmo("embed", "--model", finished.Folder, "--input", sentences, "--out", sentences, "--overwrite"),
            $"--out {sentences} is also an input of this command (--input {sentences})");
        Assert.Equal("the cat sat .\n", File.ReadAllText(sentences));

        string corpus = temp.File("v.txt", File.ReadAllText(finished.Corpus));
        AssertRefused(Elmo("vocab", "--train", corpus, "--out", corpus, "--overwrite"), $"--out {corpus} is also an input of this command (--train {corpus})");
        Assert.Equal(File.ReadAllText(finished.Corpus), File.ReadAllText(corpus));

        string words = temp.File("words.txt", "the\ncat\n");
        AssertRefused(Elmo("dump-token-embeddings", "--model", finished.Folder, "--vocab", words, "--out", words, "--overwrite"), "(--vocab ");
        Assert.Equal("the\ncat\n", File.ReadAllText(words));
    }

    [Fact]
    public void RelativeAndLinkedSpellingsOfTheInputAreTheSameFileInARealProcess()
    {
        using var temp = new TempDirectory();
        string sentences = temp.File("s.txt", "the cat sat .\n");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "link.txt"), "s.txt");
        foreach (var output in new[] { "s.txt", "./s.txt", "link.txt" })
        {
            using var elmo = new ElmoProcess(temp.Path, "embed", "--model", finished.Folder, "--input", "./s.txt", "--out", output, "--overwrite");
            Assert.Equal(2, elmo.WaitForExit());
            Assert.StartsWith($"error: --out {output} is also an input of this command (--input ./s.txt)", elmo.Stderr);
        }
        Assert.Equal("the cat sat .\n", File.ReadAllText(sentences));
    }

    [Fact]
    public void NoCommandWritesARunsFilesAndNewFilesBesideThemAreAllowed()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        var before = Snapshot(run);
        string sentences = temp.File("s.txt", "the cat sat .\n\na dog\n");
        string checkpoint = Path.Combine(run, "checkpoint.bin"), loss = Path.Combine(run, "loss.png"), vocab = Path.Combine(run, "vocab.txt");
        AssertRefused(Elmo("embed", "--model", finished.Folder, "--input", sentences, "--out", checkpoint, "--overwrite"),
            $"--out {checkpoint} is a file of the run in {run}, which only `elmo train` writes");
        AssertRefused(Elmo("plot", run, "-o", loss, "--overwrite"), $"--out {loss} is a file of the run in {run}");
        AssertRefused(Elmo("vocab", "--train", sentences, "--out", vocab, "--overwrite"), $"--out {vocab} is a file of the run in {run}");
        AssertRefused(Elmo("dump-token-embeddings", "--model", finished.Folder, "--vocab", sentences, "--out", Path.Combine(run, "options.json"), "--overwrite"),
            "is a file of the run in");
        AssertRefused(Elmo("probe", "pos", "--model", run, "--out", sentences), $"--out {sentences} is a file; give a folder for probe.json and probe.png");
        AssertUnchanged(before, run);

        string beside = Path.Combine(run, "embeddings.hdf5");
        AssertSucceeds(Elmo("embed", "--model", run, "--input", sentences, "--out", beside));
        AssertSucceeds(Elmo("train", "--resume", run, "--steps", "5"));
        Assert.True(File.Exists(beside));
    }

    [Fact]
    public void AnExistingOutputIsReplacedOnlyWithOverwrite()
    {
        using var temp = new TempDirectory();
        string sentences = temp.File("s.txt", "the cat sat .\n");
        string output = temp.File("e.hdf5", "someone's file");
        AssertRefused(Elmo("embed", "--model", finished.Folder, "--input", sentences, "--out", output), $"--out {output} exists; give --overwrite to replace it");
        AssertRefused(Elmo("vocab", "--train", sentences, "--out", output), $"--out {output} exists");
        AssertRefused(Elmo("plot", finished.Folder, "-o", output), $"--out {output} exists");
        AssertRefused(Elmo("dump-token-embeddings", "--model", finished.Folder, "--vocab", sentences, "--out", output), $"--out {output} exists");
        Assert.Equal("someone's file", File.ReadAllText(output));
        AssertSucceeds(Elmo("embed", "--model", finished.Folder, "--input", sentences, "--out", output, "--overwrite"));
        using var file = IlgpuElmo.Formats.WeightFile.Open(output);
        Assert.Equal([3, 4, 16], file.ShapeOf("0")!);
    }

    [Fact]
    public void MeanPoolingAnEmptyLineGivesANanVectorOfTheSameShapeAndAWarningNamingTheLine()
    {
        using var temp = new TempDirectory();
        string sentences = temp.File("s.txt", "the cat sat .\n\na dog\n");
        string output = Path.Combine(temp.Path, "pooled.hdf5");
        var r = Elmo("embed", "--model", finished.Folder, "--input", sentences, "--out", output, "--mean-pool", "--layers", "top");
        AssertSucceeds(r);
        Assert.Contains($"warning: 1 line(s) have no tokens (e.g. {sentences}:2); with --mean-pool their vectors are NaN.", r.Log);
        using var file = IlgpuElmo.Formats.WeightFile.Open(output);
        Assert.Equal([16], file.ShapeOf("1")!);
        Assert.All(file.Read("1", 16), v => Assert.True(float.IsNaN(v)));
        Assert.All(file.Read("2", 16), v => Assert.True(float.IsFinite(v)));
    }
}
