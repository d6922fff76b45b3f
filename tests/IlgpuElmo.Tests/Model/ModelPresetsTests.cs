using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Model;

public class ModelPresetsTests
{
    [Fact]
    public void TheCpuDefaultTrainsTheCpuSmallModelTheSpeedBenchmarksTime()
    {
        Assert.Equal("cpu-default", ModelPresets.DefaultFor(DeviceKind.Cpu));
        var chosen = ModelPresets.Get("cpu-default");
        var small = ModelPresets.Get("cpu-small");
        Assert.Equal(small.Lstm, chosen.Lstm);
        Assert.Equal(small.CharCnn!.Filters, chosen.CharCnn!.Filters);
        Assert.Equal(small.CharCnn with { Filters = [] }, chosen.CharCnn with { Filters = [] });
        Assert.Equal(small.Softmax!.Cutoffs, chosen.Softmax!.Cutoffs);
        Assert.Equal((small.BatchSize, small.UnrollSteps, small.Dropout), (chosen.BatchSize, chosen.UnrollSteps, chosen.Dropout));
        Assert.NotEqual(LearningRateDecay.Constant, chosen.LearningRateSchedule!.Decay);
        Assert.Null(small.LearningRateSchedule);
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
