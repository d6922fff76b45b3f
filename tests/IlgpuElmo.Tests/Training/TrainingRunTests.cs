using IlgpuElmo.Model;
using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

/// <summary>The library's way to train as `elmo train` does: start a run, resume it, read its result.</summary>
public class TrainingRunTests
{
    sealed class StepRecorder : ITrainingObserver
    {
        public List<long> Steps { get; } = new();
        public List<string> Messages { get; } = new();
        public void OnStep(StepReport report, string lossName, bool lossIsExact) => Steps.Add(report.Step);
        public void OnEvaluation(EvaluationReport report) { }
        public void OnCheckpoint(long step, string path) { }
        public void OnMessage(string message) => Messages.Add(message);
    }

    [Fact]
    public void ARunStartedAndResumedThroughTheApiEndsAsTheCommandsRunAndItsResultReadsBack()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        string options = Path.Combine(temp.Path, "options.json");
        TinyModels.Options(chars: true, SoftmaxKind.Adaptive, dropout: 0.1f).Save(options);
        string library = Path.Combine(temp.Path, "library"), command = Path.Combine(temp.Path, "command");

        var log = new StringWriter();
        var request = new NewRunRequest { Train = corpus, Test = corpus, Options = options, MinCount = 1, Steps = 3, CheckpointEvery = 2, Folder = library };
        using (var run = TrainingRun.Start(TestDevices.Host, request, log))
        {
            Assert.Contains($"run folder: {library}", log.ToString());
            // The folder is held while the run is open.
            Assert.Contains("is in use by another run", Assert.Throws<InputException>(() => RunFolder.CheckNewRunTarget(library, overwrite: true)).Message);
            var observer = new StepRecorder();
            Assert.Equal(TrainingOutcome.Completed, run.Train(observer));
            Assert.Equal([1L, 2, 3], observer.Steps);
            Assert.Equal(3, run.Step);
        }
        Assert.Equal(3, RunSettings.Read(library).TotalSteps);

        log = new StringWriter();
        TrainingResult result;
        using (var resumed = TrainingRun.Resume(TestDevices.Host, new ResumeRequest(library) { Steps = 5 }, log))
        {
            Assert.Contains($"resumed from {Checkpoint.PathIn(library)} at step 3 of 5", log.ToString());
            var observer = new StepRecorder();
            Assert.Equal(TrainingOutcome.Completed, resumed.Train(observer));
            Assert.Equal([4L, 5], observer.Steps);
            result = resumed.Test()!;
        }
        Assert.Equal(5, RunSettings.Read(library).TotalSteps);
        Assert.True(File.Exists(Path.Combine(library, "loss.png")));

        var read = TrainingResult.Read(library);
        Assert.Equal(result, read);
        Assert.Equal(5, read.Steps);
        Assert.Equal(library, read.Run);
        Assert.True(read.TestPerplexity > 1 && read.UnigramTestPerplexity > 1 && read.TestTokens > 0, $"{read}");
        Assert.Equal(Math.Sqrt(read.TestPerplexityForward!.Value * read.TestPerplexityBackward!.Value), read.TestPerplexity!.Value, 1e-9 * read.TestPerplexity.Value);

        // `elmo train` straight to 5 steps: the same weights, optimizer state and carried states, bit for bit.
        var error = new StringWriter();
        using (new IlgpuElmo.Tests.Cli.CapturedConsole())
            Assert.True(0 == IlgpuElmo.Cli.Program.Run(["train", "--train", corpus, "--test", corpus, "--options", options, "--min-count", "1",
                "--steps", "5", "--checkpoint-every", "2", "--out", command, "--device", "cpu"], error), error.ToString());
        var viaCommand = Checkpoint.Load(command).Tensors;
        var viaLibrary = Checkpoint.Load(library).Tensors;
        Assert.Equal(viaCommand.Keys.Order(), viaLibrary.Keys.Order());
        foreach (var (name, (_, data)) in viaCommand) Assert.True(data.AsSpan().SequenceEqual(viaLibrary[name].Data), $"{name} differs");
        Assert.Equal(TrainingResult.Read(command).TestPerplexity, read.TestPerplexity);
    }

    [Fact]
    public void AResultIsReadOnlyFromAFinishedRun()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<InputException>(() => TrainingResult.Read(temp.Path));
        Assert.Contains($"{temp.Path} has no result.json: the run has not finished; continue it with elmo train --resume {temp.Path}", e.Message);
    }
}
