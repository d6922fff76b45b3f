using IlgpuElmo.Data;
using IlgpuElmo.Kernels;
using IlgpuElmo.Model;
using IlgpuElmo.Tests.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

/// <summary>
/// What one training step (TrainStep + clipping + optimizer step + the trainer's read of losses and
/// norm) asks of the device, counted in the launch/copy/wait layer (<see cref="DeviceCounters"/>): host
/// execution counts each launcher's host loop as the launch a GPU would make, so the budget holds on
/// every device. The model is the published configuration in miniature: char CNN, 2 LSTM layers per
/// direction, sampled softmax.
/// </summary>
public class TrainStepBudgetTests
{
    /// <summary>
    /// Kernel launches (GEMMs included) of one TrainStep of <see cref="TinyModels"/>' char-CNN, sampled-softmax
    /// model with batch 3 x 5 steps (2 LSTM layers per direction, so the per-time-step recurrent GEMMs and cell
    /// kernels dominate; device memsets count as launches), measured and kept here so that a change that adds launches
    /// is a visible decision. The optimizer step adds 2 x 27 parameters + 1 = 55 (see the test below).
    /// </summary>
    const int LaunchesPerTrainStep = 297;

    /// <summary>
    /// Host execution's count: its char CNN backward reads each filter's argmax window directly (two launches per
    /// filter group: ConvWeightGradient, ConvInputGradient) where GPUs and the simulation rebuild the windows, route
    /// the gradient to a dense dConv, run two GEMMs and add the windows back (five); the tiny model has 3 groups.
    /// </summary>
    const int HostLaunchesPerTrainStep = LaunchesPerTrainStep - 3 * (5 - 2);

    /// <summary>Uploads per step: the window (lengths, targets, position map, character ids) in one copy, and
    /// per softmax call (one per direction) the sampled head's row lists, log-expected counts and touched rows.</summary>
    const int UploadsPerStep = 1 + 2 * 3;

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void AStepWaitsOnceAndMakesTheDocumentedLaunchesAndNoAllocation(string mode)
    {
        var device = TestDevices.Get(mode);
        using var temp = new TempDirectory();
        string train = TinyModels.Corpus(temp, 40, 11);
        var vocab = TinyModels.VocabularyOf(train);
        var options = TinyModels.Options(chars: true, SoftmaxKind.Sampled) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(OptimizerKind.Adagrad, 0.2f));
        using var scalars = new StepScalars(device);
        var batcher = new LmBatcher([train], vocab, options.BatchSize, options.UnrollSteps, training: true, seed: 5);

        // The first window has one distinct token; later ones have many: buffers sized per window would grow.
        var first = batcher.Next()!;
        Array.Fill(first.ForwardTokens, "the");
        Array.Fill(first.BackwardTokens, "the");
        var later = Enumerable.Range(0, 4).Select(_ => batcher.Next()!).ToList();
        Assert.True(later.All(b => b.ForwardTokens.Concat(b.BackwardTokens).Distinct().Count() > 1), "premise: later windows have more distinct tokens");

        long trainStepLaunches = 0;
        void Step(LmBatch batch, long step)
        {
            long before = device.Counters.Launches;
            model.TrainStep(batch, step, (ulong)step, scalars);
            trainStepLaunches = device.Counters.Launches - before;
            optimizer.ClipAndStep(1f, scalars.NormAndScale);
            var read = scalars.Read(device.Stream);
            Assert.True(double.IsFinite(read.LossForward) && double.IsFinite(read.GradientNorm));
        }

        Step(first, 0);
        for (int i = 0; i < later.Count; i++)
        {
            var before = device.Counters.Read();
            Step(later[i], i + 1);
            var c = device.Counters.Read() - before;
            Assert.InRange(c.Synchronizations, 1, 3);
            Assert.Equal(1, c.Synchronizations);
            Assert.Equal(0, c.Allocations);
            Assert.Equal(UploadsPerStep, c.Uploads);
            Assert.Equal(1, c.Downloads);
            int expected = device.RunsOnHost ? HostLaunchesPerTrainStep : LaunchesPerTrainStep;
            Assert.Equal(expected, trainStepLaunches);
            Assert.Equal(expected + 2 * optimizer.Parameters.Count + 1, c.Launches);
            Assert.Equal(27, optimizer.Parameters.Count);
        }
    }

    /// <summary>
    /// The other encoder and heads: one host wait and no allocation once the first window is done, though the
    /// first window has one distinct token and every target in the shortlist (later windows reach every
    /// adaptive cluster and many more distinct tokens).
    /// </summary>
    [Theory]
    [InlineData(false, SoftmaxKind.Full)]
    [InlineData(false, SoftmaxKind.Adaptive)]
    [InlineData(true, SoftmaxKind.Adaptive)]
    public void EveryHeadAndEncoderWaitsOnceAndAllocatesOnlyInTheFirstStep(bool chars, SoftmaxKind softmax)
    {
        var device = TestDevices.Host;
        using var temp = new TempDirectory();
        string train = TinyModels.Corpus(temp, 40, 13);
        var vocab = TinyModels.VocabularyOf(train);
        var options = TinyModels.Options(chars, softmax) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(OptimizerKind.Adam, 0.01f));
        using var scalars = new StepScalars(device);
        var batcher = new LmBatcher([train], vocab, options.BatchSize, options.UnrollSteps, training: true, seed: 7);
        var first = batcher.Next()!;
        Array.Fill(first.ForwardTokens, "the");
        Array.Fill(first.BackwardTokens, "the");
        Array.Fill(first.ForwardTargets, 0);
        Array.Fill(first.BackwardTargets, 0);
        var later = Enumerable.Range(0, 4).Select(_ => batcher.Next()!).ToList();
        if (softmax == SoftmaxKind.Adaptive)
            Assert.True(later.SelectMany(b => b.ForwardTargets).Any(t => t >= 12), "premise: later windows reach the last cluster");
        long step = 0;
        foreach (var batch in later.Prepend(first))
        {
            var before = device.Counters.Read();
            model.TrainStep(batch, step, (ulong)step, scalars);
            optimizer.ClipAndStep(1f, scalars.NormAndScale);
            scalars.Read(device.Stream);
            var c = device.Counters.Read() - before;
            Assert.Equal(1, c.Synchronizations);
            if (step++ > 0) Assert.Equal(0, c.Allocations);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void TheOptimizerStepLaunchesTwicePerParameterPlusOneAndNeverWaits(string mode)
    {
        var device = TestDevices.Get(mode);
        using var temp = new TempDirectory();
        string train = TinyModels.Corpus(temp, 20, 12);
        var vocab = TinyModels.VocabularyOf(train);
        var options = TinyModels.Options(chars: true, SoftmaxKind.Sampled) with { NTokensVocab = vocab.Count };
        using var model = BidirectionalLanguageModel.Create(device, options, vocab);
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(OptimizerKind.Adam, 0.01f));
        using var scalars = new StepScalars(device);
        var batch = new LmBatcher([train], vocab, options.BatchSize, options.UnrollSteps, training: true, seed: 6).Next()!;
        model.TrainStep(batch, 0, 0, scalars);
        var before = device.Counters.Read();
        optimizer.ClipAndStep(1f, scalars.NormAndScale);
        var c = device.Counters.Read() - before;
        int parameters = optimizer.Parameters.Count;
        Assert.Equal(2 * parameters + 1, c.Launches);
        Assert.Equal(0, c.Synchronizations);
        Assert.Equal(0, c.Uploads + c.Downloads + c.Allocations);
    }
}
