using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

public class TrainerTests
{
    sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<StepReport> Steps { get; } = new();
        public void OnStep(StepReport report, string lossName, bool lossIsExact) { Steps.Add(report); onStep?.Invoke(report); }
        public void OnEvaluation(EvaluationReport report) { }
        public void OnCheckpoint(long step, string path) { }
        public void OnMessage(string message) { }
    }

    sealed class Crash : Exception;

    /// <summary>One training run in <paramref name="dir"/>: model, optimizer and trainer over the tiny corpus.</summary>
    sealed class Run : IDisposable
    {
        public Run(string dir, string corpus, bool chars, ITrainingObserver observer, float learningRate = 0.2f, long steps = 8, int checkpointEvery = 3,
            LearningRateSchedule? schedule = null)
        {
            Vocabulary = TinyModels.VocabularyOf(corpus);
            Options = TinyModels.Options(chars, SoftmaxKind.Sampled, dropout: 0.2f) with { NTokensVocab = Vocabulary.Count };
            Model = BidirectionalLanguageModel.Create(TestDevices.Host, Options, Vocabulary);
            Optimizer = new Optimizer(TestDevices.Host, Model.Parameters, new OptimizerOptions(OptimizerKind.Adagrad, learningRate));
            var batcher = new LmBatcher([corpus], Vocabulary, Options.BatchSize, Options.UnrollSteps, training: true, seed: 11);
            Trainer = new Trainer(TestDevices.Host, Model, Optimizer, batcher, null, dir, new TrainingPlan(steps, checkpointEvery, 0, 10, 11, schedule),
                observer, Checkpoint.Fingerprint(Options.ToJson()), Checkpoint.Fingerprint(string.Join('\n', Vocabulary.Words)));
        }

        public Vocabulary Vocabulary { get; }
        public BilmOptions Options { get; }
        public BidirectionalLanguageModel Model { get; }
        public Optimizer Optimizer { get; }
        public Trainer Trainer { get; }
        public float[][] Weights() => Model.Parameters.Select(p => p.Value.ToArray(TestDevices.Host.Stream)).ToArray();

        public void Dispose()
        {
            Optimizer.Dispose();
            Model.Dispose();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AKilledRunResumedFromItsCheckpointEndsExactlyAsAnUninterruptedOne(bool chars)
    {
        // A warm-up and decay over the run: the resumed run must pick the schedule up at its step.
        var schedule = new LearningRateSchedule(2, LearningRateDecay.Linear, 0.1f);
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        string whole = Path.Combine(temp.Path, "whole"), killed = Path.Combine(temp.Path, "killed");
        Directory.CreateDirectory(whole);
        Directory.CreateDirectory(killed);
        float[][] expected;
        var wholeSteps = new Recorder();
        using (var run = new Run(whole, corpus, chars, wholeSteps, schedule: schedule))
        {
            Assert.Equal(TrainingOutcome.Completed, run.Trainer.Run(CancellationToken.None));
            expected = run.Weights();
        }
        using (var run = new Run(killed, corpus, chars, new Recorder(r => { if (r.Step == 5) throw new Crash(); }), schedule: schedule))
            Assert.Throws<Crash>(() => run.Trainer.Run(CancellationToken.None));
        var resumedSteps = new Recorder();
        using (var run = new Run(killed, corpus, chars, resumedSteps, schedule: schedule))
        {
            run.Trainer.Resume();
            Assert.Equal(3, run.Trainer.Step);
            run.Trainer.Run(CancellationToken.None);
            var actual = run.Weights();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i]);
        }
        Assert.Equal(wholeSteps.Steps.Skip(3).Select(s => s.MeanLoss), resumedSteps.Steps.Select(s => s.MeanLoss));
        var metrics = new MetricsLog(Path.Combine(killed, "metrics.jsonl")).ReadAll();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), metrics.Select(m => m["step"]!.GetValue<long>()));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => 0.2 * schedule.Multiplier(i, 8)),
            metrics.Select(m => m["learning_rate"]!.GetValue<double>()), new ToleranceComparer(1e-6));
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }

    [Fact]
    public void CancellingCheckpointsAndStops()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        using var cancel = new CancellationTokenSource();
        using var run = new Run(temp.Path, corpus, false, new Recorder(r => { if (r.Step == 2) cancel.Cancel(); }), checkpointEvery: 100);
        Assert.Equal(TrainingOutcome.Interrupted, run.Trainer.Run(cancel.Token));
        var (position, _) = Checkpoint.Load(temp.Path);
        Assert.Equal(2, position.Step);
    }

    [Fact]
    public void DivergenceStopsNamingTheStepAndKeepsTheLastGoodCheckpoint()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        // 1e38: the weights reach float's range, so the logits overflow. (At 1e30 the fused multiply-adds of
        // the host GEMM saturate overflowing products to +-inf, which the LSTM's clips absorb: no NaN.)
        using var run = new Run(temp.Path, corpus, false, new Recorder(), learningRate: 1e38f, steps: 50, checkpointEvery: 1);
        var e = Assert.Throws<TrainingDivergedException>(() => run.Trainer.Run(CancellationToken.None));
        Assert.Matches("at step [0-9]+", e.Message);
        int failed = int.Parse(System.Text.RegularExpressions.Regex.Match(e.Message, "at step ([0-9]+)").Groups[1].Value);
        var (position, tensors) = Checkpoint.Load(temp.Path);
        Assert.Equal(failed - 1, position.Step);
        Assert.All(tensors.Values, t => Assert.All(t.Data, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void ResumeRejectsATruncatedCheckpointAndOtherOptions()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 3))
            run.Trainer.Run(CancellationToken.None);
        string path = Checkpoint.PathIn(temp.Path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        using (var run = new Run(temp.Path, corpus, false, new Recorder()))
            Assert.Contains("truncated", Assert.Throws<InputException>(() => run.Trainer.Resume()).Message);
        File.WriteAllBytes(path, bytes);
        using var other = new Run(temp.Path, corpus, true, new Recorder());
        Assert.Contains("different options", Assert.Throws<InputException>(() => other.Trainer.Resume()).Message);
    }

    [Fact]
    public void TheLastTwoCheckpointsAreKeptAndADamagedLatestOneOffersThePrevious()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        float[][] atStep6;
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 6, checkpointEvery: 3))
        {
            run.Trainer.Run(CancellationToken.None);
            atStep6 = run.Weights();
        }
        Assert.Equal(6, Checkpoint.Load(temp.Path).Position.Step);
        Assert.Equal(3, Checkpoint.Load(temp.Path, fromPrevious: true).Position.Step);

        // A flipped byte in the latest: the error names it, the previous one's step and how to use it.
        string latest = Checkpoint.PathIn(temp.Path);
        byte[] good = File.ReadAllBytes(latest);
        byte[] bad = (byte[])good.Clone();
        bad[bad.Length / 2] ^= 0x40;
        File.WriteAllBytes(latest, bad);
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 8))
        {
            var e = Assert.Throws<InputException>(() => run.Trainer.Resume());
            Assert.Contains("checksum", e.Message);
            Assert.Contains($"'{Checkpoint.PreviousPathIn(temp.Path)}' (step 3) is intact", e.Message);
            Assert.Contains("--from-previous", e.Message);
        }
        Assert.Equal(bad, File.ReadAllBytes(latest));

        // Continuing from the previous one sets the damaged file aside and trains the same steps again.
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 6, checkpointEvery: 3))
        {
            run.Trainer.Resume(fromPrevious: true);
            Assert.Equal(3, run.Trainer.Step);
            run.Trainer.Run(CancellationToken.None);
            var again = run.Weights();
            for (int i = 0; i < atStep6.Length; i++) Assert.Equal(atStep6[i], again[i]);
        }
        Assert.Equal(bad, File.ReadAllBytes(Path.Combine(temp.Path, Checkpoint.DamagedFileName)));
        Assert.Equal(3, Checkpoint.Load(temp.Path, fromPrevious: true).Position.Step);
    }

    [Fact]
    public void AKillBetweenTheRotationsRenamesLeavesTheNewestCheckpointReadable()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 6, checkpointEvery: 3))
            run.Trainer.Run(CancellationToken.None);
        // The state after "checkpoint.bin -> previous" and before "pending -> checkpoint.bin".
        File.Move(Checkpoint.PathIn(temp.Path), Path.Combine(temp.Path, Checkpoint.PendingFileName));
        Assert.Equal(6, Checkpoint.Load(temp.Path).Position.Step);
        using var resumed = new Run(temp.Path, corpus, false, new Recorder(), steps: 7);
        resumed.Trainer.Resume();
        Assert.Equal(6, resumed.Trainer.Step);
    }

    [Fact]
    public void ResumingARunThatReachedItsTargetSaysHowManyStepsWereDone()
    {
        using var temp = new TempDirectory();
        string corpus = TinyModels.Corpus(temp, 40, 1);
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 4))
            run.Trainer.Run(CancellationToken.None);
        byte[] metrics = File.ReadAllBytes(Path.Combine(temp.Path, "metrics.jsonl"));
        using (var run = new Run(temp.Path, corpus, false, new Recorder(), steps: 3))
            Assert.Contains("has done 4 steps and its target is 3", Assert.Throws<InputException>(() => run.Trainer.Resume()).Message);
        Assert.Equal(metrics, File.ReadAllBytes(Path.Combine(temp.Path, "metrics.jsonl")));
        using var further = new Run(temp.Path, corpus, false, new Recorder(), steps: 5);
        further.Trainer.Resume();
        Assert.Equal(TrainingOutcome.Completed, further.Trainer.Run(CancellationToken.None));
        Assert.Equal(5, Checkpoint.Load(temp.Path).Position.Step);
    }
}
