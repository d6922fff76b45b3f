using System.Text.Json.Nodes;
using IlgpuElmo.Cli;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Formats;
using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;
using IlgpuElmo.Data;

namespace IlgpuElmo.Tests.Cli;

/// <summary>A finished tiny run (4 steps, checkpoints at 2 and 4) that each test copies before touching it.</summary>
public sealed class FinishedRun : IDisposable
{
    readonly TempDirectory temp = new();

    public FinishedRun()
    {
        Corpus = TinyModels.Corpus(temp, 40, 1);
        Options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true, SoftmaxKind.Adaptive, dropout: 0.1f).Save(Options);
        Folder = Path.Combine(temp.Path, "run");
        var (code, error, log) = RunSafetyTests.Elmo("train", "--train", Corpus, "--options", Options, "--min-count", "1",
            "--steps", "4", "--checkpoint-every", "2", "--out", Folder);
        Assert.True(code == 0, error + log);
    }

    public string Corpus { get; }
    public string Options { get; }
    public string Folder { get; }

    public string CopyTo(string parent)
    {
        string copy = Path.Combine(parent, "run");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Folder)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    public void Dispose() => temp.Dispose();
}

/// <summary>
/// The CLI's guarantees for a user's run folder, one test per way a run used to be lost or mixed: each
/// checks the message and that the earlier run's files are byte-identical afterwards.
/// </summary>
public class RunSafetyTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    /// <summary>Runs `elmo` in this process: exit code, the error line, and what the command logged to stderr.</summary>
    internal static (int Code, string Error, string Log) Elmo(params string[] args)
    {
        var error = new StringWriter();
        var log = new StringWriter();
        var saved = Console.Error;
        Console.SetError(log);
        try
        {
            return (Program.Run(args, error), error.ToString(), log.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    internal static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    internal static void AssertUnchanged(Dictionary<string, byte[]> before, string folder)
    {
        var after = Snapshot(folder);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    /// <summary>One "error: ..." line and exit code 2, no stack trace.</summary>
    internal static void AssertOneLineError((int Code, string Error, string Log) r, params string[] parts)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}; {r.Error}{r.Log}");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", r.Error);
        Assert.DoesNotContain("   at ", r.Error + r.Log);
        foreach (var part in parts) Assert.Contains(part, r.Error);
    }

    /// <summary>Formats/Fixtures/bilm_weights_tiny.hdf5, found from this source file's location.</summary>
    internal static string WeightsFixture([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "Formats", "Fixtures", "bilm_weights_tiny.hdf5");

    internal static long LastStep(string folder) =>
        new MetricsLog(Path.Combine(folder, "metrics.jsonl")).ReadAll().Max(m => m["step"]!.GetValue<long>());

    string[] NewRun(string folder, params string[] more) =>
        ["train", "--train", finished.Corpus, "--options", finished.Options, "--min-count", "1", "--out", folder, .. more];

    [Fact]
    public void AFolderHoldingARunIsRefusedUnlessOverwriteIsGiven()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        var before = Snapshot(run);
        AssertOneLineError(Elmo(NewRun(run, "--steps", "2")), $"--out {run} already holds a run", $"--resume {run}", "--overwrite");
        AssertUnchanged(before, run);

        var r = Elmo(NewRun(run, "--steps", "2", "--overwrite"));
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Equal(2, LastStep(run));
        Assert.False(File.Exists(Checkpoint.PreviousPathIn(run)));
    }

    [Fact]
    public void ASecondRunOnAFolderInUseFailsAtOnceNamingTheFirstAndSigtermSavesACheckpoint()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        using var first = new ElmoProcess(temp.Path, NewRun(run, "--steps", "100000", "--checkpoint-every", "100000"));
        string metrics = Path.Combine(run, "metrics.jsonl");
        first.WaitUntil(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 2, "two training steps");

        using (var second = new ElmoProcess(temp.Path, NewRun(run, "--steps", "2", "--overwrite")))
        {
            Assert.Equal(2, second.WaitForExit());
            Assert.Contains($"error: {run} is in use by another run (process {first.Id} on {Environment.MachineName}", second.Stderr);
        }

        first.Signal(15);
        Assert.Equal(143, first.WaitForExit());
        var saved = System.Text.RegularExpressions.Regex.Match(first.Stderr, "interrupted: checkpoint saved at step ([0-9]+)");
        Assert.True(saved.Success, first.Stderr);
        long step = long.Parse(saved.Groups[1].Value);
        Assert.Equal(step, Checkpoint.Load(run).Position.Step);
        Assert.Equal(step, LastStep(run));
        Assert.False(File.Exists(Path.Combine(run, RunFolderLock.OwnerFileName)));

        var resumed = Elmo("train", "--resume", run, "--steps", (step + 2).ToString());
        Assert.True(resumed.Code == 0, resumed.Error + resumed.Log);
        Assert.Contains($"at step {step} of {step + 2}", resumed.Log);
        Assert.Equal(step + 2, LastStep(run));
    }

    [Fact]
    public void SighupAlsoSavesACheckpointAndAKilledRunsLockIsReportedAsStale()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        string metrics = Path.Combine(run, "metrics.jsonl");
        using (var hung = new ElmoProcess(temp.Path, NewRun(run, "--steps", "100000", "--checkpoint-every", "100000")))
        {
            hung.WaitUntil(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 1, "a training step");
            hung.Signal(1);
            Assert.Equal(129, hung.WaitForExit());
            Assert.Contains("interrupted: checkpoint saved at step", hung.Stderr);
        }
        long saved = Checkpoint.Load(run).Position.Step;
        int killedId;
        using (var killed = new ElmoProcess(temp.Path, "train", "--resume", run, "--steps", "100000"))
        {
            killedId = killed.Id;
            killed.WaitUntil(() => LastStep(run) > saved, "a step after the resumed one");
        } // disposed: SIGKILL, no chance to clean up
        var before = Snapshot(run);
        var r = Elmo("train", "--resume", run, "--steps", "1");
        Assert.Contains($"stale lock from a run that is no longer running (process {killedId} on", r.Log);
        AssertOneLineError(r, "ask for more than");
        before.Remove(RunFolderLock.OwnerFileName);
        AssertUnchanged(before, run);
    }

    [Fact]
    public void ACorpusWithNoTargetsIsAnErrorBeforeAnyFolderIsCreatedWhateverTheVocabulary()
    {
        using var temp = new TempDirectory();
        string blank = temp.File("blank.txt", "   \n\t\n \u00a0 \n"), invalid = Path.Combine(temp.Path, "invalid.txt");
        File.WriteAllBytes(invalid, [0xC3, 0x28, (byte)'\n', 0xFF, (byte)'\n']);
        string run = Path.Combine(temp.Path, "run");
        var r = Elmo("train", "--train", $"{blank},{invalid}", "--vocab", Path.Combine(finished.Folder, "vocab.txt"), "--options", finished.Options, "--out", run);
        AssertOneLineError(r, "(2 file(s), e.g. " + blank + ") has no trainable targets");
        Assert.Contains($"skipped 2 line(s) that are not valid UTF-8 (e.g. {invalid}:1, {invalid}:2)", r.Log);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void ADamagedLatestCheckpointIsReportedWithThePreviousOneAndFromPreviousContinues()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        string latest = Checkpoint.PathIn(run);
        byte[] bytes = File.ReadAllBytes(latest);
        File.WriteAllBytes(latest, bytes[..(bytes.Length / 3)]);
        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6"), latest, "truncated or damaged", "(step 2) is intact", $"--resume {run} --from-previous");
        AssertUnchanged(before, run);

        var r = Elmo("train", "--resume", run, "--steps", "6", "--from-previous");
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Contains($"resumed from {Checkpoint.PreviousPathIn(run)} at step 2", r.Log);
        Assert.Equal(6, Checkpoint.Load(run).Position.Step);
        Assert.Equal(6, LastStep(run));
    }

    [Fact]
    public void ATruncatedWeightFileIsOneLineNamingIt()
    {
        using var temp = new TempDirectory();
        string options = temp.File("published.json", BilmWeightNamesTests.TinyCharOptions);
        byte[] bytes = File.ReadAllBytes(WeightsFixture());
        string input = temp.File("in.txt", "a b c\n");
        foreach (int cut in new[] { 0, 100, bytes.Length / 2, bytes.Length - 10 })
        {
            string weights = Path.Combine(temp.Path, $"cut{cut}.hdf5");
            File.WriteAllBytes(weights, bytes[..cut]);
            AssertOneLineError(Elmo("embed", "--options", options, "--weights", weights, "--input", input, "--out", Path.Combine(temp.Path, "e.hdf5")), weights);
        }
        Assert.False(File.Exists(Path.Combine(temp.Path, "e.hdf5")));
    }

    [Fact]
    public void ADamagedRunJsonNamesTheFileAndTheLine()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        string settings = Path.Combine(run, "run.json");
        File.WriteAllText(settings, "{\n  \"TrainFiles\": [\n    \"a.txt\",,\n");
        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "6"), $"{settings} line 3: not valid JSON");
        AssertUnchanged(before, run);
    }

    [Fact]
    public void OutputPathsAreCheckedBeforeTheWork()
    {
        using var temp = new TempDirectory();
        string file = temp.File("taken.txt", "not a folder");
        AssertOneLineError(Elmo(NewRun(file, "--steps", "1")), $"--out {file} is a file");
        Assert.Equal("not a folder", File.ReadAllText(file));

        string folder = Path.Combine(temp.Path, "folder");
        Directory.CreateDirectory(folder);
        string input = temp.File("in.txt", "the cat sat .\n");
        AssertOneLineError(Elmo("embed", "--model", finished.Folder, "--input", input, "--out", folder), $"--out {folder} is a folder");
        AssertOneLineError(Elmo("embed", "--model", finished.Folder, "--input", input, "--out", Path.Combine(temp.Path, "missing", "e.hdf5")),
            $"the folder {Path.Combine(temp.Path, "missing")} does not exist");
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void ResumeContinuesToANewTargetAndRefusesFewerStepsThanDone()
    {
        using var temp = new TempDirectory();
        string run = finished.CopyTo(temp.Path);
        var before = Snapshot(run);
        AssertOneLineError(Elmo("train", "--resume", run, "--steps", "3"), $"The run in {run} has done 4 steps", "ask for more than 4 steps");
        AssertOneLineError(Elmo("train", "--resume", run), "has done 4 steps and its target is 4");
        AssertUnchanged(before, run);

        var r = Elmo("train", "--resume", run, "--steps", "6");
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Equal(6, LastStep(run));
        Assert.Equal(6, JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!["TotalSteps"]!.GetValue<long>());
    }

    [Fact]
    public void AUtf16CorpusIsRefusedAndInvalidUtf8InEmbedInputIsACountedWarning()
    {
        using var temp = new TempDirectory();
        string utf16 = Path.Combine(temp.Path, "utf16.txt");
        File.WriteAllText(utf16, File.ReadAllText(finished.Corpus), System.Text.Encoding.Unicode);
        string run = Path.Combine(temp.Path, "run");
        AssertOneLineError(Elmo("train", "--train", utf16, "--options", finished.Options, "--out", run), $"{utf16} is UTF-16LE", "iconv");
        Assert.False(Directory.Exists(run));

        string input = Path.Combine(temp.Path, "in.txt");
        File.WriteAllBytes(input, [.. "the cat\nbad "u8.ToArray(), 0xC3, 0x28, .. " byte\na dog\n"u8.ToArray()]);
        string output = Path.Combine(temp.Path, "e.hdf5");
        var r = Elmo("embed", "--model", finished.Folder, "--input", input, "--out", output);
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Contains($"warning: 1 line(s) are not valid UTF-8 (e.g. {input}:2)", r.Log);
        using var file = IlgpuElmo.Formats.WeightFile.Open(output);
        Assert.Equal(3, file.ShapeOf("1")![1]);
    }

    [Fact]
    public void ThePresetsCutoffsAdaptToASmallVocabularyAndATooSmallCorpusIsAnError()
    {
        using var temp = new TempDirectory();
        // About 1,600 targets: more than one cpu-small batch (64 x 20); a vocabulary of 24 words.
        string corpus = TinyModels.Corpus(temp, 200, 2);
        string run = Path.Combine(temp.Path, "run");
        var r = Elmo("train", "--train", corpus, "--preset", "cpu-small", "--min-count", "1", "--steps", "1", "--out", run);
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Contains("note: preset cpu-small's adaptive-softmax cutoffs 1000,6000 do not fit this vocabulary of 24 words; using 12.", r.Log);

        string small = temp.File("small.txt", "the cat sat .\n");
        string none = Path.Combine(temp.Path, "none");
        AssertOneLineError(Elmo("train", "--train", small, "--options", finished.Options, "--out", none),
            "the corpus has 5 targets per direction, fewer than one batch (3 streams x 5 steps = 15)");
        Assert.False(Directory.Exists(none));
    }

    [Theory]
    [InlineData("--checkpoint-every", "0", "--checkpoint-every must be at least 1 (got 0)")]
    [InlineData("--eval-every", "-1", "--eval-every must be at least 1 (got -1)")]
    [InlineData("--steps", "0", "--steps must be at least 1 (got 0)")]
    [InlineData("--epochs", "-0.5", "--epochs must be a positive number (got -0.5)")]
    public void InvalidNumericOptionsAreErrorsNamingTheOption(string option, string value, string message)
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        AssertOneLineError(Elmo(NewRun(run, option, value)), message);
        Assert.False(Directory.Exists(run));
    }
}
