using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tensors;
using IlgpuElmo.Tests.Reference;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Linalg;

/// <summary>
/// Every GEMM backend that runs without a GPU (our coarse and tiled ILGPU kernels through the CPU
/// accelerator's simulation, and the host packed GEMM with each micro-kernel this processor runs, on one
/// and on several threads) against the float64 reference.
/// </summary>
public class GemmTests
{
    public static TheoryData<string> Backends
    {
        get
        {
            var names = new TheoryData<string> { "coarse", "tiled" };
            foreach (var host in HostBackends) names.Add(host);
            return names;
        }
    }

    public static TheoryData<string> HostBackends
    {
        get
        {
            var names = new TheoryData<string>();
            foreach (var kind in Enum.GetValues<HostGemmKernel>())
                if (HostGemm.IsSupported(kind)) { names.Add($"host-{kind}-1"); names.Add($"host-{kind}-3"); }
            return names;
        }
    }

    static (ComputeDevice device, Gemm gemm) Backend(string name) => name switch
    {
        "coarse" => (TestDevices.Simulated, new Gemm(new KernelGemm(TestDevices.Simulated.Kernels(rt => new GemmKernels(rt)), tiled: false))),
        "tiled" => (TestDevices.Simulated, new Gemm(new KernelGemm(TestDevices.Simulated.Kernels(rt => new GemmKernels(rt)), tiled: true))),
        _ => (TestDevices.Host, HostBackend(name)),
    };

    // "host-Avx512-3": that micro-kernel, 3 workers (more than this machine's cores, so splits are exercised).
    static Gemm HostBackend(string name)
    {
        var parts = name.Split('-');
        return new Gemm(new HostGemm(Enum.Parse<HostGemmKernel>(parts[1]), int.Parse(parts[2])));
    }

    static readonly (int M, int N, int K)[] OddShapes =
    [
        (1, 1, 1), (1, 7, 33), (7, 1, 129), (33, 129, 1), (129, 33, 7), (7, 7, 7),
        (33, 33, 33), (129, 7, 33), (1, 129, 7), (33, 1, 129), (129, 129, 33), (7, 33, 129),
    ];

    [Theory]
    [MemberData(nameof(Backends))]
    public void EveryTransposeAndOddSizeMatchesFloat64(string backend)
    {
        var (device, gemm) = Backend(backend);
        var random = new Random(11);
        foreach (var (m, n, k) in OddShapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(device, gemm, random, m, n, k, ta, tb, alpha: 1f, beta: 0f, batch: 1, padA: 0, padB: 0, padC: 0);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void StridedBatchesWithPaddingAlphaAndBeta(string backend)
    {
        var (device, gemm) = Backend(backend);
        var random = new Random(12);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                Check(device, gemm, random, 7, 33, 5, ta, tb, alpha: 0.5f, beta: -1.5f, batch: 3, padA: 3, padB: 1, padC: 2);
                Check(device, gemm, random, 33, 7, 129, ta, tb, alpha: -2f, beta: 1f, batch: 2, padA: 0, padB: 2, padC: 0);
            }
    }

    /// <summary>
    /// Shapes past one cache block in every dimension (K over KC = 256, rows over MC = 96) with edges
    /// in each, and enough work to run in parallel.
    /// </summary>
    [Theory]
    [MemberData(nameof(HostBackends))]
    public void BlockedShapesMatchFloat64(string backend)
    {
        var (device, gemm) = Backend(backend);
        var random = new Random(13);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                Check(device, gemm, random, 101, 70, 300, ta, tb, alpha: 1f, beta: 0f, batch: 1, padA: 1, padB: 0, padC: 1);
                Check(device, gemm, random, 13, 130, 517, ta, tb, alpha: 0.75f, beta: 0.5f, batch: 1, padA: 0, padB: 3, padC: 0);
            }
        Check(device, gemm, random, 5, 9, 200, false, true, alpha: 1f, beta: 1f, batch: 7, padA: 0, padB: 0, padC: 0);
    }

    [Fact]
    public void HostResultsAreBitIdenticalForAnyWorkerCount()
    {
        var device = TestDevices.Host;
        var random = new Random(14);
        foreach (var (m, n, k) in new[] { (64, 1000, 300), (500, 40, 35), (1, 300, 700) })
        {
            float[] a = TestData.Random(random, m * k), b = TestData.Random(random, k * n), c0 = TestData.Random(random, m * n);
            var p = new GemmParams(m, n, k, 0.5f, 1f, 0, 0, k, n, n, 0, 0, 0, 1);
            float[]? first = null;
            foreach (int workers in new[] { 1, 2, 3, 5 })
            {
                using var da = device.Upload<float>(a, a.Length);
                using var db = device.Upload<float>(b, b.Length);
                using var dc = device.Upload<float>(c0, c0.Length);
                new Gemm(new HostGemm(workers: workers)).Run(device.Stream, p, da.View, db.View, dc.View);
                var c = dc.ToArray(device.Stream);
                first ??= c;
                Assert.True(first.AsSpan().SequenceEqual(c), $"{m}x{n}x{k}: {workers} workers differ from 1 worker");
            }
        }
    }

    /// <summary>
    /// Runs one GEMM where every operand is a padded row-major block (leading dimension = columns + pad,
    /// batches further apart than needed); C's pad is poisoned with NaN to show it is never touched, and
    /// with beta = 0, C itself is poisoned to show it is never read.
    /// </summary>
    internal static void Check(ComputeDevice device, Gemm gemm, Random random, int m, int n, int k, bool ta, bool tb,
        float alpha, float beta, int batch, int padA, int padB, int padC)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + padA, ldb = bCols + padB, ldc = n + padC;
        long strideA = (long)aRows * lda + 5, strideB = (long)bRows * ldb + 3, strideC = (long)m * ldc + 4;
        float[] a = TestData.Random(random, strideA * batch), b = TestData.Random(random, strideB * batch);
        float[] c = beta == 0 ? TestData.Poison(strideC * batch) : TestData.Random(random, strideC * batch);
        var expected = ReferenceGemm.Compute(m, n, k, alpha, beta, ta, tb, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch);
        using var da = device.Upload<float>(a, a.Length);
        using var db = device.Upload<float>(b, b.Length);
        using var dc = device.Upload<float>(c, c.Length);
        var p = new GemmParams(m, n, k, alpha, beta, ta ? 1 : 0, tb ? 1 : 0, lda, ldb, ldc, strideA, strideB, strideC, batch);
        gemm.Run(device.Stream, p, da.View, db.View, dc.View);
        var actual = dc.ToArray(device.Stream);
        for (int q = 0; q < batch; q++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < ldc && q * strideC + (long)i * ldc + j < actual.Length; j++)
                {
                    long at = q * strideC + (long)i * ldc + j;
                    if (j < n)
                    {
                        double tolerance = 1e-5 * (1 + Math.Abs(expected[at])) * Math.Max(1, Math.Sqrt(k));
                        Assert.True(Math.Abs(actual[at] - expected[at]) <= tolerance,
                            $"{gemm.Backend.Name} {m}x{n}x{k} ta={ta} tb={tb} batch {q} C[{i},{j}] = {actual[at]}, expected {expected[at]}");
                    }
                    else if (beta == 0)
                    {
                        Assert.True(float.IsNaN(actual[at]), $"{gemm.Backend.Name}: pad C[{i},{j}] of batch {q} was written");
                    }
                }
    }

    [Fact]
    public void TensorFormChecksShapesAndNamesThem()
    {
        var device = TestDevices.Host;
        using var a = device.Allocate<float>(new([3, 4]));
        using var b = device.Allocate<float>(new([5, 6]));
        using var c = device.Allocate<float>(new([3, 6]));
        var e = Assert.Throws<ShapeMismatchException>(() => device.Gemm.Multiply(device.Stream, a, false, b, false, c));
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[5, 6]", e.Message);
    }

    [Fact]
    public void TensorFormRunsBatchedTransposes()
    {
        var device = TestDevices.Host;
        var random = new Random(3);
        float[] a = TestData.Random(random, 2 * 5 * 3), b = TestData.Random(random, 2 * 4 * 5);
        using var da = device.Upload<float>(a, 2, 5, 3); // A^T per batch: op(A) is [3, 5]
        using var db = device.Upload<float>(b, 2, 4, 5); // B^T per batch: op(B) is [5, 4]
        using var dc = device.Allocate<float>(new([2, 3, 4]));
        device.Gemm.Multiply(device.Stream, da, true, db, true, dc);
        var expected = ReferenceGemm.Compute(3, 4, 5, 1, 0, true, true, a, 3, 15, b, 5, 20, new float[24], 4, 12, 2);
        TestData.AssertClose(dc.ToArray(device.Stream), expected, what: "batched A^T B^T");
    }

    [Fact]
    public void OutOfBoundsOperandIsRejectedBeforeLaunch()
    {
        var device = TestDevices.Host;
        using var a = device.Allocate<float>(new([10]));
        using var c = device.Allocate<float>(new([16]));
        var p = new GemmParams(4, 4, 4, 1, 0, 0, 0, 4, 4, 4, 0, 0, 0, 1);
        var e = Assert.Throws<ArgumentException>(() => device.Gemm.Run(device.Stream, p, a.View, c.View, c.View));
        Assert.Contains("operand A", e.Message);
    }
}
