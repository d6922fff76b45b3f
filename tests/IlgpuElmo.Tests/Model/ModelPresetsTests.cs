using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Model;

public class ModelPresetsTests
{
    [Fact]
    public void TheCpuRunsKeepTheSpeedBenchmarksModelsCharCnnSoftmaxAndWindow()
    {
        Assert.Equal("cpu-default", ModelPresets.DefaultFor(DeviceKind.Cpu));
        var small = ModelPresets.Get("cpu-small");
        Assert.Null(small.LearningRateSchedule);
        foreach (var name in new[] { "cpu-default", "cpu-long" })
        {
            var chosen = ModelPresets.Get(name);
            Assert.Equal(small.CharCnn!.Filters, chosen.CharCnn!.Filters);
            Assert.Equal(small.CharCnn with { Filters = [] }, chosen.CharCnn with { Filters = [] });
            Assert.Equal(small.Softmax!.Cutoffs, chosen.Softmax!.Cutoffs);
            Assert.Equal((small.BatchSize, small.UnrollSteps), (chosen.BatchSize, chosen.UnrollSteps));
            Assert.NotEqual(LearningRateDecay.Constant, chosen.LearningRateSchedule!.Decay);
        }
        // The hour's setting is the model the speed benchmarks time, with dropout; the default trades cells for output width.
        Assert.Equal(small.Lstm, ModelPresets.Get("cpu-long").Lstm);
        Assert.Equal((20, 0.1f), (ModelPresets.Get("cpu-long").NEpochs, ModelPresets.Get("cpu-long").Dropout));
        var defaults = ModelPresets.Get("cpu-default");
        Assert.Equal((192, 160, 2, true), (defaults.Lstm.Dim, defaults.Lstm.ProjectionDim, defaults.Lstm.NLayers, defaults.Lstm.UseSkipConnections));
        Assert.Equal((5, 0f), (defaults.NEpochs, defaults.Dropout));
    }

    [Fact]
    public void EveryNamedPresetWritesOptionsThatReadBack()
    {
        foreach (var name in ModelPresets.Names)
        {
            var preset = ModelPresets.Get(name) with { NTokensVocab = 20_000 };
            var (back, warnings) = BilmOptions.Parse(preset.ToJson(), name);
            Assert.Empty(warnings);
            Assert.Equal(preset.ToJson(), back.ToJson());
        }
        Assert.Throws<InputException>(() => ModelPresets.Get("cpu-huge"));
    }
}
