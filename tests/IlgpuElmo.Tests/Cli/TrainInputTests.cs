using System.Text.Json.Nodes;
using IlgpuElmo.Data;
using IlgpuElmo.Training;
using IlgpuElmo.Model;
using static IlgpuElmo.Tests.Cli.RunSafetyTests;

namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// What `elmo train` makes of its input before it trains: corpora that reach run folders, options and
/// vocabularies that cannot train, a model too big for the device, and a corpus of one enormous line.
/// </summary>
public class TrainInputTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    string OptionsWith(TempDirectory temp, string name, Action<JsonNode> change)
    {
        var options = JsonNode.Parse(File.ReadAllText(finished.Options))!;
        change(options);
        return temp.File(name, options.ToJsonString());
    }

    [Fact]
    public void ACorpusPatternThatReachesARunFolderLeavesItsFilesOutWithANote()
    {
        using var temp = new TempDirectory();
        string data = Path.Combine(temp.Path, "data");
        Directory.CreateDirectory(data);
        string corpus = Path.Combine(data, "corpus.txt");
        File.Copy(finished.Corpus, corpus);
        string earlier = finished.CopyTo(data);
        int runFiles = Directory.GetFiles(earlier).Length;

        string run = Path.Combine(temp.Path, "run");
        string pattern = Path.Combine(data, "**");
        var r = Elmo("train", "--train", pattern, "--options", finished.Options, "--min-count", "1", "--steps", "1", "--out", run);
        Assert.True(r.Code == 0, r.Error + r.Log);
        Assert.Contains($"note: --train '{pattern}': left out {runFiles} file(s) of the run folder(s) {earlier} (a run's checkpoints, metrics and lock are not text)", r.Log);
        Assert.DoesNotContain("UTF-8", r.Log);
        Assert.Equal([corpus], RunSettings.Read(run).TrainFiles);

        AssertOneLineError(Elmo("train", "--train", earlier, "--options", finished.Options, "--out", Path.Combine(temp.Path, "none")),
            $"--train '{earlier}': its only matches are the files of the run folder(s) {earlier}, which are not text");
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "none")));
    }

    [Fact]
    public void MaxCharactersPerTokenOtherThanFiftyIsRefusedBeforeTheFolderSayingFifty()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        foreach (int chars in new[] { 2, 20 })
        {
            string options = OptionsWith(temp, $"chars{chars}.json", o => o["char_cnn"]!["max_characters_per_token"] = chars);
            AssertOneLineError(Elmo("train", "--train", finished.Corpus, "--options", options, "--min-count", "1", "--out", run),
                $"{options}: 'char_cnn.max_characters_per_token' is {chars}; it must be 50");
            Assert.False(Directory.Exists(run));
        }
    }

    [Fact]
    public void AVocabularyWithoutWordsIsRefusedBeforeTheFolder()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        string specials = temp.File("specials.txt", "<S>\n</S>\n<UNK>\n");
        AssertOneLineError(Elmo("train", "--train", finished.Corpus, "--options", finished.Options, "--vocab", specials, "--out", run),
            $"--vocab {specials} has no word besides <S>, </S> and <UNK>: every word would be <UNK>", "elmo vocab");
        AssertOneLineError(Elmo("train", "--train", finished.Corpus, "--options", finished.Options, "--min-count", "1000", "--out", run),
            "--min-count 1000 keeps no word of the corpus", "Lower --min-count");
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void AModelTooLargeForTheDeviceIsRefusedBeforeTheFolderWithTheEstimate()
    {
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        string options = OptionsWith(temp, "huge.json", o => o["lstm"]!["dim"] = 20_000_000);
        var r = Elmo("train", "--train", finished.Corpus, "--options", options, "--min-count", "1", "--out", run);
        AssertOneLineError(r, $"{options}: training this model needs at least ", " parameters with their gradients and adagrad state: ",
            "LSTM activations of a window: ", "lower lstm.dim");
        Assert.Matches(@"needs at least [0-9]+\.[0-9]+ GiB .* but .* has [0-9]+\.[0-9]+ GiB", r.Error);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void ACorpusOfOneTwentyMegabyteLineTrainsInBoundedMemoryWithASmallCheckpoint()
    {
        // Before: the line was one sentence, copied whole into every stream and every checkpoint; a 20 MB line
        // passed 7.8 GB at its first step ("ep 15") and was killed (measured 2026-12-03).
        using var temp = new TempDirectory();
        string corpus = Path.Combine(temp.Path, "one-line.txt");
        var random = new Random(5);
        string[] words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "her", "car", "."];
        using (var writer = new StreamWriter(corpus))
            for (long written = 0; written < 20L << 20;)
            {
                string word = words[random.Next(words.Length)];
                writer.Write(word);
                writer.Write(' ');
                written += word.Length + 1;
            }
        string options = OptionsWith(temp, "options.json", o => o["batch_size"] = 16);
        string run = Path.Combine(temp.Path, "run");
        using var elmo = new ElmoProcess(temp.Path, "train", "--train", corpus, "--options", options, "--min-count", "1",
            "--steps", "4", "--checkpoint-every", "2", "--out", run);
        Assert.True(elmo.WaitForExit() == 0, elmo.Stderr);
        Assert.Contains($"note: 1 line(s) had more than {SentenceReader.MaxSentenceTokens} tokens and were cut", elmo.Stderr);
        Assert.Contains("step 4/4 ep 0 ", elmo.Stderr);
        long peak = elmo.PeakResidentBytes, checkpoint = new FileInfo(Checkpoint.PathIn(run)).Length;
        if (OperatingSystem.IsLinux()) Assert.True(peak > 0, "no reading of the process's memory");
        Assert.True(peak < 1L << 30, $"peak memory {peak >> 20} MiB");
        Assert.True(checkpoint < 2L << 20, $"checkpoint {checkpoint} bytes");
    }
}
