namespace IlgpuElmo.Distributed;

/// <summary>One contiguous piece of a dense gradient inside a bucket: elements [Start, Start + Length) of parameter Parameter, at BucketOffset.</summary>
public readonly record struct BucketSegment(int Parameter, long Start, int Length, int BucketOffset);

/// <summary>
/// Dense gradients packed, in parameter order, into buckets of at most <c>capacity</c> floats: one
/// all-reduce per bucket instead of one per parameter (fewer, larger messages), a parameter larger than a
/// bucket split across several. Every rank computes the same layout from the same parameter sizes.
/// </summary>
public sealed class GradientBuckets
{
    public GradientBuckets(IReadOnlyList<long> lengths, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "A bucket holds at least one float.");
        var buckets = new List<List<BucketSegment>>();
        var current = new List<BucketSegment>();
        int used = 0;
        for (int p = 0; p < lengths.Count; p++)
        {
            long start = 0;
            while (start < lengths[p])
            {
                if (used == capacity)
                {
                    buckets.Add(current);
                    current = new List<BucketSegment>();
                    used = 0;
                }
                int take = (int)Math.Min(capacity - used, lengths[p] - start);
                current.Add(new BucketSegment(p, start, take, used));
                used += take;
                start += take;
            }
        }
        if (current.Count > 0) buckets.Add(current);
        Buckets = buckets;
    }

    public IReadOnlyList<IReadOnlyList<BucketSegment>> Buckets { get; }

    /// <summary>Floats in a bucket.</summary>
    public static int Size(IReadOnlyList<BucketSegment> bucket) => bucket.Count == 0 ? 0 : bucket[^1].BucketOffset + bucket[^1].Length;
}
