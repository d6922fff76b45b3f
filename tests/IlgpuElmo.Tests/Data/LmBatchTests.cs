using IlgpuElmo.Data;

namespace IlgpuElmo.Tests.Data;

public class LmBatchTests
{
    [Fact]
    public void ARowShareHoldsThoseStreamsAndTheWholeBatchsTargetCount()
    {
        var batch = new LmBatch(steps: 3, batchSize: 4);
        for (int i = 0; i < 12; i++)
        {
            batch.ForwardInputs[i] = i;
            batch.ForwardTargets[i] = 100 + i;
            batch.BackwardInputs[i] = 200 + i;
            batch.BackwardTargets[i] = 300 + i;
            batch.ForwardTokens[i] = $"f{i}";
            batch.BackwardTokens[i] = $"b{i}";
        }
        int[] lengths = [3, 2, 3, 1];
        lengths.CopyTo(batch.Lengths, 0);

        var share = batch.Rows(first: 1, count: 2);

        Assert.Equal(2, share.BatchSize);
        Assert.Equal([2, 3], share.Lengths);
        Assert.Equal(5, share.TargetCount);
        Assert.Equal(9, share.GlobalTargetCount);
        Assert.Equal(9, batch.GlobalTargetCount);
        // Time-major: (t, b) at t * B + b; the share's (t, j) is the batch's (t, 1 + j).
        Assert.Equal([1, 2, 5, 6, 9, 10], share.ForwardInputs);
        Assert.Equal([301, 302, 305, 306, 309, 310], share.BackwardTargets);
        Assert.Equal(["f1", "f2", "f5", "f6", "f9", "f10"], share.ForwardTokens);
    }
}
