namespace IlgpuElmo.Data;

/// <summary>
/// One training window for both directions, time-major: position (t, b) is element t * B + b.
/// Forward: inputs are a stream of sentences &lt;S&gt; w1 .. wn, targets the next token (.. &lt;/S&gt;).
/// Backward: the same sentences reversed, &lt;/S&gt; wn .. w1, targets the previous token (.. &lt;S&gt;).
/// Target -1 marks padding (only at the end of a finite pass): no loss there. Rows are padded only
/// at their end, so <see cref="Lengths"/> gives each row's real positions.
/// </summary>
public sealed class LmBatch(int steps, int batchSize)
{
    public int Steps { get; } = steps;
    public int BatchSize { get; } = batchSize;
    public int[] ForwardInputs { get; } = new int[steps * batchSize];
    public int[] ForwardTargets { get; } = new int[steps * batchSize];
    public int[] BackwardInputs { get; } = new int[steps * batchSize];
    public int[] BackwardTargets { get; } = new int[steps * batchSize];

    /// <summary>The token text at each input position (the char CNN reads characters, even of unknown words).</summary>
    public string[] ForwardTokens { get; } = new string[steps * batchSize];
    public string[] BackwardTokens { get; } = new string[steps * batchSize];

    /// <summary>Real (unpadded) positions per row, both directions alike.</summary>
    public int[] Lengths { get; } = new int[batchSize];

    /// <summary>Positions with a target, per direction.</summary>
    public int TargetCount => Lengths.Sum();

    /// <summary>Targets per direction in the whole batch this window is a share of (data-parallel replicas); else <see cref="TargetCount"/>.</summary>
    public int GlobalTargetCount
    {
        get => globalTargetCount ?? TargetCount;
        init => globalTargetCount = value;
    }

    readonly int? globalTargetCount;

    /// <summary>Rows [first, first + count) of this window, as a window of their own that knows the whole one's target count.</summary>
    public LmBatch Rows(int first, int count)
    {
        var share = new LmBatch(Steps, count) { GlobalTargetCount = TargetCount };
        for (int t = 0; t < Steps; t++)
        {
            int from = t * BatchSize + first, to = t * count;
            Array.Copy(ForwardInputs, from, share.ForwardInputs, to, count);
            Array.Copy(ForwardTargets, from, share.ForwardTargets, to, count);
            Array.Copy(BackwardInputs, from, share.BackwardInputs, to, count);
            Array.Copy(BackwardTargets, from, share.BackwardTargets, to, count);
            Array.Copy(ForwardTokens, from, share.ForwardTokens, to, count);
            Array.Copy(BackwardTokens, from, share.BackwardTokens, to, count);
        }
        Array.Copy(Lengths, first, share.Lengths, 0, count);
        return share;
    }
}
