namespace IlgpuElmo.Model;

/// <summary>How the learning rate falls after warm-up: not at all, in a straight line, or along a half cosine.</summary>
public enum LearningRateDecay { Constant, Linear, Cosine }

/// <summary>
/// The learning rate as a multiple of the options' learning_rate, by step: a linear warm-up from
/// 1/<see cref="WarmupSteps"/> to 1 over the first <see cref="WarmupSteps"/> updates (Adam's early
/// moment estimates are noisy, so full-size steps then overshoot), then a decay to
/// <see cref="FinalFraction"/> at the run's last step (a short run gains most from the small steps at
/// its end). Options key: learning_rate_schedule {warmup_steps, decay, final_fraction}.
/// </summary>
public sealed record LearningRateSchedule(int WarmupSteps = 0, LearningRateDecay Decay = LearningRateDecay.Constant, float FinalFraction = 0f)
{
    public static LearningRateSchedule Constant { get; } = new();

    /// <summary>One line for logs, e.g. "warm-up 100 steps, linear decay to 0.1x".</summary>
    public string Describe() =>
        (WarmupSteps > 0 ? $"warm-up {WarmupSteps} steps, " : "") +
        (Decay == LearningRateDecay.Constant ? "constant" : $"{Decay.ToString().ToLowerInvariant()} decay to {FinalFraction:0.###}x");

    /// <summary>The multiplier for the update made at 0-based <paramref name="step"/> of a run of <paramref name="totalSteps"/> updates.</summary>
    public double Multiplier(long step, long totalSteps)
    {
        if (step < WarmupSteps) return (step + 1.0) / WarmupSteps;
        long decaySteps = totalSteps - WarmupSteps;
        if (Decay == LearningRateDecay.Constant || decaySteps <= 1) return 1;
        double progress = Math.Min(1, (double)(step - WarmupSteps) / (decaySteps - 1));
        double shape = Decay == LearningRateDecay.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return FinalFraction + (1 - FinalFraction) * shape;
    }
}
