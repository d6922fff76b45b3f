using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

/// <summary>The output rule on folders laid out by hand: inputs, run files, exports, existing files.</summary>
public class OutputPathsTests
{
    static InputException Refused(Action check) => Assert.Throws<InputException>(check);

    static OutputPaths.Input[] Inputs(params (string Option, string Path)[] inputs) => inputs.Select(i => new OutputPaths.Input(i.Option, i.Path)).ToArray();

    /// <summary>A folder with a run's marker files (run.json, options.json, vocab.txt, checkpoint.bin).</summary>
    static string RunFolderIn(TempDirectory temp)
    {
        foreach (var name in new[] { "run.json", "options.json", "vocab.txt", Checkpoint.FileName }) temp.File(Path.Combine("run", name), name);
        return Path.Combine(temp.Path, "run");
    }

    static string ExportIn(TempDirectory temp, string name = "export")
    {
        foreach (var file in PublishedExport.Files) temp.File(Path.Combine(name, file), file);
        return Path.Combine(temp.Path, name);
    }

    [Fact]
    public void AnInputIsRefusedHoweverItsPathIsSpelledAndWhateverOverwriteSays()
    {
        using var temp = new TempDirectory();
        string input = temp.File("s.txt", "the cat\n");
        string dotted = Path.Combine(temp.Path, ".", "sub", "..", "s.txt");
        Directory.CreateDirectory(Path.Combine(temp.Path, "sub"));
        var e = Refused(() => OutputPaths.CheckFile(dotted, "--out", "e.hdf5", overwrite: true, Inputs(("--input", input))));
        Assert.Equal($"--out {dotted} is also an input of this command (--input {input}); give another path for the output.", e.Message);

        string link = Path.Combine(temp.Path, "link.txt");
        File.CreateSymbolicLink(link, "s.txt");
        Refused(() => OutputPaths.CheckFile(link, "--out", "e.hdf5", overwrite: true, Inputs(("--input", input))));
        Refused(() => OutputPaths.CheckFile(input, "--out", "e.hdf5", overwrite: true, Inputs(("--input", link))));

        // A link to the folder: the same file through another folder name.
        string folderLink = Path.Combine(temp.Path, "same");
        Directory.CreateSymbolicLink(folderLink, temp.Path);
        Refused(() => OutputPaths.CheckFile(Path.Combine(folderLink, "s.txt"), "--out", "e.hdf5", overwrite: true, Inputs(("--input", input))));
        Assert.Equal("the cat\n", File.ReadAllText(input));
    }

    [Fact]
    public void AnExistingFileNeedsOverwriteAndANewOneDoesNot()
    {
        using var temp = new TempDirectory();
        string existing = temp.File("e.hdf5", "old");
        var e = Refused(() => OutputPaths.CheckFile(existing, "--out", "e.hdf5", overwrite: false, []));
        Assert.Equal($"--out {existing} exists; give --overwrite to replace it, or another path.", e.Message);
        OutputPaths.CheckFile(existing, "--out", "e.hdf5", overwrite: true, []);
        OutputPaths.CheckFile(Path.Combine(temp.Path, "new.hdf5"), "--out", "e.hdf5", overwrite: false, []);
        Assert.Equal(["e.hdf5"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void ARunsFilesAreNeverOutputsButANewNameInItsFolderIs()
    {
        using var temp = new TempDirectory();
        string run = RunFolderIn(temp);
        foreach (var name in new[] { Checkpoint.FileName, "loss.png", "metrics.jsonl", "result.json", "run.lock", ".lock" })
        {
            string path = Path.Combine(run, name);
            var e = Refused(() => OutputPaths.CheckFile(path, "--out", "x", overwrite: true, []));
            Assert.Equal($"--out {path} is a file of the run in {run}, which only `elmo train` writes; give another name or folder.", e.Message);
        }
        OutputPaths.CheckFile(Path.Combine(run, "embeddings.hdf5"), "--out", "x", overwrite: false, []);
        // The same names in a folder that holds no run are ordinary files.
        OutputPaths.CheckFile(Path.Combine(temp.Path, "loss.png"), "--out", "x", overwrite: false, []);
    }

    [Fact]
    public void AnExportsFilesAreNeverOtherCommandsOutputs()
    {
        using var temp = new TempDirectory();
        string export = ExportIn(temp);
        string vocab = Path.Combine(export, "vocab.txt");
        var e = Refused(() => OutputPaths.CheckFile(vocab, "--out", "vocab.txt", overwrite: true, []));
        Assert.Equal($"--out {vocab} is a file of the export in {export}; give another path (`elmo export --overwrite` replaces a whole export).", e.Message);
    }

    [Fact]
    public void AnExportGoesIntoANewOrEmptyFolderOrReplacesAnExportWhenToldTo()
    {
        using var temp = new TempDirectory();
        OutputPaths.CheckExportFolder(Path.Combine(temp.Path, "new", "deeper"), "--out", overwrite: false, []);
        Directory.CreateDirectory(Path.Combine(temp.Path, "empty"));
        OutputPaths.CheckExportFolder(Path.Combine(temp.Path, "empty"), "--out", overwrite: false, []);

        string export = ExportIn(temp);
        Assert.Contains("holds an export (elmo-options.json, options.json, softmax.hdf5, vocab.txt, weights.hdf5); replace it with --overwrite",
            Refused(() => OutputPaths.CheckExportFolder(export, "--out", overwrite: false, [])).Message);
        OutputPaths.CheckExportFolder(export, "--out", overwrite: true, []);

        string run = RunFolderIn(temp);
        foreach (bool overwrite in new[] { false, true })
            Assert.Equal($"--out {run} holds a run of `elmo train` (checkpoint.bin, options.json, run.json, vocab.txt); an export goes into a new or empty folder.",
                Refused(() => OutputPaths.CheckExportFolder(run, "--out", overwrite, [])).Message);

        string notes = temp.File("other/notes.txt", "mine");
        Assert.Contains("is not empty (notes.txt)", Refused(() => OutputPaths.CheckExportFolder(Path.GetDirectoryName(notes)!, "--out", overwrite: true, [])).Message);
        Assert.Contains("is a file", Refused(() => OutputPaths.CheckExportFolder(notes, "--out", overwrite: true, [])).Message);
    }

    [Fact]
    public void AnExportNeverGoesWhereItsModelIsRead()
    {
        using var temp = new TempDirectory();
        string export = ExportIn(temp);
        string weights = Path.Combine(export, "weights.hdf5");
        var e = Refused(() => OutputPaths.CheckExportFolder(export, "--out", overwrite: true, Inputs(("--weights", weights))));
        Assert.Equal($"--out {export} holds an input of this export (--weights {weights}); export into a new or empty folder.", e.Message);
        Refused(() => OutputPaths.CheckExportFolder(temp.Path, "--out", overwrite: true, Inputs(("--model", export))));
        Refused(() => OutputPaths.CheckExportFolder(Path.Combine(export, "."), "--out", overwrite: true, Inputs(("--model", export))));
    }
}
