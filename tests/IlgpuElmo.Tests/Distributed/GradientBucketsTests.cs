using IlgpuElmo.Distributed;

namespace IlgpuElmo.Tests.Distributed;

public class GradientBucketsTests
{
    [Fact]
    public void EveryElementLandsInExactlyOneBucketSlotInParameterOrder()
    {
        long[] lengths = [5, 13, 1, 8];
        var layout = new GradientBuckets(lengths, capacity: 6);
        Assert.All(layout.Buckets, b => Assert.InRange(GradientBuckets.Size(b), 1, 6));
        Assert.Equal(5, layout.Buckets.Count); // 27 floats in buckets of 6
        var seen = lengths.Select(n => new int[n]).ToArray();
        var order = new List<(int, long)>();
        foreach (var bucket in layout.Buckets)
        {
            int offset = 0;
            foreach (var s in bucket)
            {
                Assert.Equal(offset, s.BucketOffset);
                offset += s.Length;
                for (long i = s.Start; i < s.Start + s.Length; i++)
                {
                    seen[s.Parameter][i]++;
                    order.Add((s.Parameter, i));
                }
            }
        }
        Assert.All(seen, counts => Assert.All(counts, c => Assert.Equal(1, c)));
        Assert.Equal(order.OrderBy(o => o.Item1).ThenBy(o => o.Item2), order);
    }

    [Fact]
    public void SmallParametersShareABucket()
    {
        var layout = new GradientBuckets([3, 4, 2], capacity: 100);
        Assert.Single(layout.Buckets);
        Assert.Equal(9, GradientBuckets.Size(layout.Buckets[0]));
    }
}
