using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Encoders;

namespace IlgpuElmo.Tests.Model;

public class TrainingMemoryEstimateTests
{
    static Vocabulary Words(int count) => new([Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk, .. Enumerable.Range(0, count - 3).Select(i => $"w{i}")]);

    public static TheoryData<string> Models => new() { "chars adaptive", "words sampled", "chars full, no projection", "preset cpu-small" };

    static (BilmOptions Options, int Vocabulary) Model(string name) => name switch
    {
        "chars adaptive" => (TinyModels.Options(chars: true, SoftmaxKind.Adaptive), 30),
        "words sampled" => (TinyModels.Options(chars: false, SoftmaxKind.Sampled), 30),
        "chars full, no projection" => (TinyModels.Options(chars: true, SoftmaxKind.Full) with
        {
            CharCnn = new CharCnnOptions(4, [new(1, 4), new(2, 4)], 2, 262, 50, CharActivation.Relu),
        }, 25),
        _ => (ModelPresets.Get("cpu-small"), 19423),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void TheParameterCountIsTheModelsOwn(string name)
    {
        var (options, size) = Model(name);
        using var model = BidirectionalLanguageModel.Create(TestDevices.Host, options, Words(size));
        Assert.Equal(model.Parameters.Sum(p => p.Value.Length), TrainingMemoryEstimate.ParameterCount(options, size));
    }

    [Fact]
    public void TheEstimateCountsGradientsOptimizerStateAndTheLstmsSavedActivations()
    {
        var options = ModelPresets.Get("cpu-small") with { Optimizer = OptimizerKind.Adam };
        var estimate = TrainingMemoryEstimate.For(options, 19423, streams: 64);
        Assert.Equal(estimate.Parameters * 4 * 4, estimate.ParameterBytes);
        var l = options.Lstm;
        Assert.Equal(4L * 2 * l.NLayers * (6 * l.Dim + options.TokenDim) * 64 * options.UnrollSteps, estimate.ActivationBytes);
        Assert.Equal(estimate.Parameters * 4 * 3, TrainingMemoryEstimate.For(options with { Optimizer = OptimizerKind.Adagrad }, 19423, 64).ParameterBytes);
        // An LSTM of 20,000,000 cells: terabytes, which no device has.
        var huge = TrainingMemoryEstimate.For(options with { Lstm = l with { Dim = 20_000_000 } }, 19423, 64);
        Assert.True(huge.TotalBytes > 1L << 40, $"{huge.TotalBytes}");
    }
}
