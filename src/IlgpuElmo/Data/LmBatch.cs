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
}
