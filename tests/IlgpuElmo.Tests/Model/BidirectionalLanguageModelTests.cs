using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Model;

public class BidirectionalLanguageModelTests
{
    [Theory]
    [InlineData(false, SoftmaxKind.Full)]
    [InlineData(true, SoftmaxKind.Sampled)]
    [InlineData(true, SoftmaxKind.Adaptive)]
    public void TrainingLowersTheHeldOutPerplexity(bool chars, SoftmaxKind softmax)
    {
        using var temp = new TempDirectory();
        string train = TinyModels.Corpus(temp, 80, 1), dev = TinyModels.Corpus(temp, 20, 2);
        var vocab = TinyModels.VocabularyOf(train);
        var device = TestDevices.Host;
        var options = TinyModels.Options(chars, softmax) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(OptimizerKind.Adagrad, 0.2f));
        var batcher = new LmBatcher([train], vocab, options.BatchSize, options.UnrollSteps, training: true, seed: 3);
        double Perplexity() { var (f, b, _) = model.Evaluate(new LmBatcher([dev], vocab, 4, 5, false, 0)); return Math.Exp((f + b) / 2); }
        double before = Perplexity();
        Assert.InRange(before, vocab.Count * 0.5, vocab.Count * 2.0);
        using var scalars = new StepScalars(device);
        for (int step = 0; step < 600; step++)
        {
            model.TrainStep(batcher.Next()!, step, (ulong)step, scalars);
            optimizer.ClipAndStep(10f, scalars.NormAndScale);
            var read = scalars.Read(device.Stream);
            Assert.True(double.IsFinite(read.LossForward) && double.IsFinite(read.LossBackward) && double.IsFinite(read.GradientNorm));
        }
        double after = Perplexity();
        Assert.True(after < before / 4, $"perplexity {before:F1} -> {after:F1}");
    }

    /// <summary>
    /// The assembled model's gradient (encoder -> both directions -> shared softmax, with the gather and
    /// scatter of distinct tokens) against central differences of its own loss, in the CPU simulation.
    /// </summary>
    [Theory]
    [InlineData(false, true, "simulate")]
    [InlineData(true, true, "simulate")]
    [InlineData(true, false, "simulate")]
    [InlineData(true, false, "host")]
    public void GradientMatchesFiniteDifferencesOfTheLoss(bool chars, bool skipConnections, string mode)
    {
        using var temp = new TempDirectory();
        string train = TinyModels.Corpus(temp, 10, 4);
        var vocab = TinyModels.VocabularyOf(train);
        var device = TestDevices.Get(mode);
        var tiny = TinyModels.Options(chars, SoftmaxKind.Full, batch: 2, steps: 4);
        var options = tiny with { NTokensVocab = vocab.Count, Lstm = tiny.Lstm with { UseSkipConnections = skipConnections } };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        var batch = new LmBatcher([train], vocab, 2, 4, training: false, seed: 0).Next()!;
        using var scalars = new StepScalars(device);
        double Loss()
        {
            model.ResetStates();
            foreach (var p in model.Parameters) p.Gradient.Clear(device.Stream);
            model.TrainStep(batch, 0, 1, scalars);
            var read = scalars.Read(device.Stream);
            return (read.LossForward + read.LossBackward) / 2;
        }
        Loss();
        var checkedParameters = model.Parameters.Where(p => p.Shape.Rank == 2).Take(6).Concat(model.Parameters.Where(p => p.Name.Contains("softmax/b"))).ToList();
        var gradients = checkedParameters.ToDictionary(p => p.Name, p => p.Gradient.ToArray(device.Stream));
        var random = new Random(5);
        foreach (var p in checkedParameters)
        {
            var values = p.Value.ToArray(device.Stream);
            var grad = gradients[p.Name];
            for (int trial = 0; trial < 3; trial++)
            {
                int i = Enumerable.Range(0, values.Length).OrderByDescending(j => Math.Abs(grad[j]) + random.NextDouble() * 1e-9).Skip(trial).First();
                float eps = 1e-2f * Math.Max(1f, Math.Abs(values[i]));
                float keep = values[i];
                values[i] = keep + eps; p.Value.CopyFrom(device.Stream, values); double plus = Loss();
                values[i] = keep - eps; p.Value.CopyFrom(device.Stream, values); double minus = Loss();
                values[i] = keep; p.Value.CopyFrom(device.Stream, values);
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - grad[i]) <= 0.03 * Math.Abs(numeric) + 2e-4,
                    $"{p.Name}[{i}]: analytic {grad[i]:E4}, numeric {numeric:E4}");
            }
        }
    }
}
