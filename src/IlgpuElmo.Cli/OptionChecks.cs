namespace IlgpuElmo.Cli;

/// <summary>Numeric options the parser accepts but the command cannot use: errors naming the option and the value.</summary>
static class OptionChecks
{
    public static void AtLeast(long? value, long minimum, string option)
    {
        if (value < minimum) throw new InputException($"{option} must be at least {minimum} (got {value}).");
    }

    public static void Positive(double? value, string option)
    {
        if (value is double v && !(v > 0 && double.IsFinite(v)))
            throw new InputException($"{option} must be a positive number (got {v}).");
    }
}
