using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tensors;
using IlgpuElmo.Tests.Linalg;
using IlgpuElmo.Tests.Reference;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// What is particular to the host GEMM: its blocking per ISA and cache sizes, and multiplying from a B
/// packed once (<see cref="HostGemm.PackB"/>), which must equal packing per call bit for bit.
/// </summary>
public class HostGemmTests
{
    /// <summary>Blocks of a few tiles: KC 16, MC two row tiles, NC two column panels, so small shapes cross every block.</summary>
    public static HostGemmBlocking SmallBlocking(HostGemmKernel kind) =>
        new(HostGemmBlocking.Rows, HostGemmBlocking.ColumnsOf(kind), 16, 2 * HostGemmBlocking.Rows, 2 * HostGemmBlocking.ColumnsOf(kind));

    public static TheoryData<HostGemmKernel> Kernels
    {
        get
        {
            var kinds = new TheoryData<HostGemmKernel>();
            foreach (var kind in Enum.GetValues<HostGemmKernel>())
                if (HostGemm.IsSupported(kind)) kinds.Add(kind);
            return kinds;
        }
    }

    /// <summary>The model's recurrent and projection GEMMs (M = batch rows), odd sizes, and K past several blocks.</summary>
    static readonly (int M, int N, int K)[] Shapes =
    [
        (64, 1024, 128), (64, 128, 256), (64, 256, 128), (64, 128, 1024),
        (1, 1, 1), (7, 33, 5), (13, 129, 300), (5, 70, 517), (130, 31, 40),
    ];

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PackedBEqualsPackingPerCallBitForBitAndMatchesFloat64(HostGemmKernel kind)
    {
        var device = TestDevices.Host;
        var random = new Random(21);
        foreach (var blocking in new HostGemmBlocking?[] { null, SmallBlocking(kind) })
            foreach (int workers in new[] { 1, 3 })
            {
                using var gemm = new Gemm(new HostGemm(kind, workers, blocking));
                using var workspace = new Workspace(device);
                foreach (var (m, n, k) in Shapes)
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            float beta = (m + n) % 2 == 0 ? 0f : 0.5f;
                            float[] a = TestData.Random(random, (long)m * k), b = TestData.Random(random, (long)k * n), c0 = TestData.Random(random, (long)m * n);
                            using var da = device.Upload<float>(a, ta ? k : m, ta ? m : k);
                            using var db = device.Upload<float>(b, tb ? n : k, tb ? k : n);
                            using var perCall = device.Upload<float>(c0, m, n);
                            using var once = device.Upload<float>(c0, m, n);
                            gemm.Multiply(device.Stream, da, ta, db, tb, perCall, 0.75f, beta);
                            var packed = gemm.Pack(device.Stream, db, tb, workspace, "b");
                            Assert.NotNull(packed.Packed);
                            // Packed B serves several multiplies, as a weight serves a pass's time steps.
                            for (int repeat = 0; repeat < 2; repeat++)
                            {
                                once.CopyFrom(device.Stream, c0);
                                gemm.Multiply(device.Stream, da, ta, packed, once, 0.75f, beta);
                            }
                            string what = $"{kind} {blocking?.ToString() ?? "default"} workers {workers} {m}x{n}x{k} ta={ta} tb={tb}";
                            var expected = once.ToArray(device.Stream);
                            Assert.True(perCall.ToArray(device.Stream).AsSpan().SequenceEqual(expected), $"{what}: packed once differs from packed per call");
                            var reference = ReferenceGemm.Compute(m, n, k, 0.75, beta, ta, tb, a, ta ? m : k, 0, b, tb ? k : n, 0, c0, n, 0, 1);
                            double tolerance = 1e-5 * Math.Max(1, Math.Sqrt(k));
                            TestData.AssertClose(expected, reference, tolerance, tolerance, what);
                        }
            }
    }

    /// <summary>
    /// A row of C is the same bits whatever tile it falls in: the first rows of a 12-row product (whole 6-row
    /// tiles) equal products of just those rows (1-3 rows: the few-rows path; 4-5: a zero-padded edge tile).
    /// The bias gradients (one row) and inference over fewer rows per step rely on it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void ARowIsTheSameBitsInAnyTile(HostGemmKernel kind)
    {
        var device = TestDevices.Host;
        var random = new Random(22);
        using var gemm = new Gemm(new HostGemm(kind, 2));
        const int n = 70, k = 300;
        foreach (bool tb in new[] { false, true })
        {
            float[] a = TestData.Random(random, 12 * k), b = TestData.Random(random, k * n), c0 = TestData.Random(random, 12 * n);
            using var db = device.Upload<float>(b, tb ? n : k, tb ? k : n);
            using var all = device.Upload<float>(a, 12, k);
            using var cAll = device.Upload<float>(c0, 12, n);
            gemm.Multiply(device.Stream, all, false, db, tb, cAll, 0.5f, 1f);
            var expected = cAll.ToArray(device.Stream);
            for (int m = 1; m <= 5; m++)
            {
                using var few = device.Upload<float>(a.AsSpan(0, m * k), m, k);
                using var cFew = device.Upload<float>(c0.AsSpan(0, m * n), m, n);
                gemm.Multiply(device.Stream, few, false, db, tb, cFew, 0.5f, 1f);
                Assert.True(expected.AsSpan(0, m * n).SequenceEqual(cFew.ToArray(device.Stream)), $"{kind} tb={tb}: {m} rows differ from the same rows of 12");
            }
        }
    }

    [Fact]
    public void BackendsThatReadBInPlacePackNothing()
    {
        var device = TestDevices.Simulated;
        using var b = device.Allocate<float>(new([5, 7]));
        using var workspace = new Workspace(device);
        var packed = device.Gemm.Pack(device.Stream, b, transB: true, workspace, "b");
        Assert.Null(packed.Packed);
        Assert.Equal((5, 7), (packed.N, packed.K));
        Assert.Equal(0, workspace.Bytes);
    }

    [Fact]
    public void AMultiplyWithAPackedBChecksShapes()
    {
        var device = TestDevices.Host;
        using var workspace = new Workspace(device);
        using var a = device.Allocate<float>(new([3, 4]));
        using var b = device.Allocate<float>(new([5, 6]));
        using var c = device.Allocate<float>(new([3, 6]));
        var packed = device.Gemm.Pack(device.Stream, b, false, workspace, "b");
        var e = Assert.Throws<ShapeMismatchException>(() => device.Gemm.Multiply(device.Stream, a, false, packed, c));
        Assert.Contains("[5, 6]", e.Message);
    }

    /// <summary>
    /// Zen 3 (32 KB L1d, 512 KB L2) and the other cache sizes the blocking meets: the micro-kernel's working set
    /// fits L1d, the A block half of L2, the packed B block a quarter of L3, for every kernel.
    /// </summary>
    [Theory]
    [MemberData(nameof(CacheSizes))]
    public void TheBlockingFitsTheCaches(string machine, int l1, int l2, int l3)
    {
        var caches = new HostCaches(l1, l2, l3);
        foreach (var kind in Enum.GetValues<HostGemmKernel>())
        {
            var b = HostGemmBlocking.For(kind, caches);
            string what = $"{machine} ({caches}) {kind}: {b}";
            Assert.True(b.L1Bytes <= l1 * HostGemmBlocking.L1Share, $"{what}: the B micro-panel and two A tiles take {b.L1Bytes} bytes of L1d");
            Assert.True(b.L2Bytes <= l2 / 2, $"{what}: the A block takes {b.L2Bytes} bytes of L2");
            Assert.True(b.L3Bytes <= l3 / 4, $"{what}: the packed B block takes {b.L3Bytes} bytes of L3");
            Assert.True(b.MC % b.MR == 0 && b.NC % b.NR == 0 && b.MC >= b.MR && b.NC >= b.NR, what);
            Assert.Equal(HostGemmBlocking.ColumnsOf(kind), b.NR);
        }
    }

    public static TheoryData<string, int, int, int> CacheSizes => new()
    {
        { "Zen 3", HostCaches.Zen3.L1Data, HostCaches.Zen3.L2, HostCaches.Zen3.L3 },
        { "Zen 4", HostCaches.Zen4.L1Data, HostCaches.Zen4.L2, HostCaches.Zen4.L3 },
        { "Zen 5", HostCaches.Zen5.L1Data, HostCaches.Zen5.L2, HostCaches.Zen5.L3 },
        { "fallback", HostCaches.Fallback.L1Data, HostCaches.Fallback.L2, HostCaches.Fallback.L3 },
        { "Skylake-SP", 32 << 10, 1 << 20, 1408 << 10 },
    };

    /// <summary>KC sets the rounding, so it depends on the kernel alone: the same ISA gives the same results on any cache sizes.</summary>
    [Fact]
    public void KcIsTheKernelsOwnAndMcNcFollowTheCaches()
    {
        foreach (var kind in Enum.GetValues<HostGemmKernel>())
        {
            var zen3 = HostGemmBlocking.For(kind, HostCaches.Zen3);
            var zen5 = HostGemmBlocking.For(kind, HostCaches.Zen5);
            Assert.Equal(zen3.KC, zen5.KC);
            Assert.True(zen3.MC <= zen5.MC, $"{kind}: Zen 5's 1 MB L2 holds at least as tall an A block as Zen 3's 512 KB ({zen3.MC} vs {zen5.MC})");
        }
        // AVX2's 256-deep A rows: 252 rows fill half of Zen 3's L2; Zen 5 reaches the cap.
        Assert.Equal((252, 288), (HostGemmBlocking.For(HostGemmKernel.Avx2, HostCaches.Zen3).MC, HostGemmBlocking.For(HostGemmKernel.Avx2, HostCaches.Zen5).MC));
        Assert.Equal(128, HostGemmBlocking.DepthOf(HostGemmKernel.Avx512));
        Assert.Equal(256, HostGemmBlocking.DepthOf(HostGemmKernel.Avx2));
    }

    [Fact]
    public void CacheSizesAreReadFromSysfsLayout()
    {
        using var temp = new TempDirectory();
        void Cache(int index, int level, string type, string size)
        {
            string folder = Directory.CreateDirectory(Path.Combine(temp.Path, $"index{index}")).FullName;
            File.WriteAllText(Path.Combine(folder, "level"), $"{level}\n");
            File.WriteAllText(Path.Combine(folder, "type"), $"{type}\n");
            File.WriteAllText(Path.Combine(folder, "size"), $"{size}\n");
        }
        Cache(0, 1, "Data", "32K");
        Cache(1, 1, "Instruction", "64K");
        Cache(2, 2, "Unified", "512K");
        Assert.Equal(new HostCaches(32 << 10, 512 << 10, 512 << 10), HostCaches.Read(temp.Path));
        Cache(3, 3, "Unified", "32768K");
        Assert.Equal(HostCaches.Zen3, HostCaches.Read(temp.Path));
        Assert.Null(HostCaches.Read(Path.Combine(temp.Path, "missing")));
        File.WriteAllText(Path.Combine(temp.Path, "index0", "size"), "lots\n");
        Assert.Null(HostCaches.Read(temp.Path));
    }

    /// <summary>`elmo bench`'s "GEMM alone" replays what a recording saw: every multiply and pack, in order, with its sizes.</summary>
    [Fact]
    public void ARecordingListsTheCallsInOrderAndTheyReplay()
    {
        var device = TestDevices.Host;
        var host = new HostGemm();
        using var gemm = new Gemm(host);
        using var workspace = new Workspace(device);
        using var a = device.Allocate<float>(new([6, 5]));
        using var b = device.Allocate<float>(new([7, 5]));
        using var c = device.Allocate<float>(new([6, 7]));
        long before = host.MultiplyAdds;
        var calls = host.Record(() =>
        {
            var packed = gemm.Pack(device.Stream, b, true, workspace, "b");
            gemm.Multiply(device.Stream, a, false, packed, c);
            gemm.Multiply(device.Stream, a, false, b, true, c, beta: 1f);
        });
        Assert.Equal([HostGemmCallKind.Pack, HostGemmCallKind.RunPackedB, HostGemmCallKind.Run], calls.Select(x => x.Kind));
        Assert.All(calls, x => Assert.Equal((7, 5), (x.Params.N, x.Params.K)));
        Assert.Equal(2 * 6 * 7 * 5, host.MultiplyAdds - before);
        Assert.True(host.TimeAlone(device.Accelerator, calls, repeats: 1) > 0);
        Assert.Empty(host.Record(() => { }));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void TheFmaLoopRunsOnEveryKernelsWidth(HostGemmKernel kind)
    {
        double one = FmaPeak.Measure(kind, 1, seconds: 0.01), two = FmaPeak.Measure(kind, 2, seconds: 0.01);
        Assert.True(double.IsFinite(one) && one > 0 && double.IsFinite(two) && two > 0, $"{kind}: {one}, {two} GFLOP/s");
    }
}
