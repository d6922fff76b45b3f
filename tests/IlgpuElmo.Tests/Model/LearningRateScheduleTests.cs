using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmsUpLinearlyThenDecaysLinearlyToTheFinalFraction()
    {
        var s = new LearningRateSchedule(4, LearningRateDecay.Linear, 0.2f);
        // Warm-up: 1/4, 2/4, 3/4, 4/4; then 7 decay steps from 1 down to 0.2 in equal steps of 0.8/6.
        double[] expected = [0.25, 0.5, 0.75, 1, 1, 1 - 0.8 / 6, 1 - 1.6 / 6, 0.6, 1 - 3.2 / 6, 1 - 4.0 / 6, 0.2];
        for (int step = 0; step < 11; step++)
            Assert.Equal(expected[step], s.Multiplier(step, 11), 6);
    }

    [Fact]
    public void CosineStartsAtOneEndsAtTheFinalFractionAndPassesTheMidpointHalfway()
    {
        var s = new LearningRateSchedule(0, LearningRateDecay.Cosine, 0.1f);
        Assert.Equal(1, s.Multiplier(0, 101), 6);
        Assert.Equal(0.55, s.Multiplier(50, 101), 6);
        Assert.Equal(0.1, s.Multiplier(100, 101), 6);
        Assert.True(s.Multiplier(25, 101) > 0.775, "the half cosine falls slowly at first");
    }

    [Fact]
    public void ConstantIsOneAfterWarmUp()
    {
        var s = new LearningRateSchedule(2, LearningRateDecay.Constant, 0.5f);
        Assert.Equal([0.5, 1, 1, 1], Enumerable.Range(0, 4).Select(step => s.Multiplier(step, 4)));
        Assert.Equal(1, LearningRateSchedule.Constant.Multiplier(0, 1));
    }
}
