namespace IlgpuElmo.Tests;

/// <summary>The allocation budget tests' instrument sees a large array, and sees nothing when there is none.</summary>
public class LargeAllocationsTests
{
    [Fact]
    public void ALargeArrayPerCallIsCountedAndNothingElseIs()
    {
        var kept = new List<float[]>();
        var (bytes, types) = LargeAllocations.During(() =>
        {
            for (int i = 0; i < 3; i++) kept.Add(new float[23_000]); // 92 KB each: large objects, below one tick each
        });
        Assert.InRange(bytes, 3 * 92_000, 3 * 92_000 + 1_000);
        Assert.Contains(types, t => t.Contains("Single[]"));
        var (none, _) = LargeAllocations.During(() => kept.Add(new float[1_000]));
        Assert.InRange(none, -1_000, 1_000);
    }
}
