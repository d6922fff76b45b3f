using BenchmarkDotNet.Attributes;
using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// GEMM throughput per backend on the devices present: cuBLAS (fp32 and TF32) and our tiled kernel on
/// CUDA, the tiled kernel on OpenCL, the host SIMD GEMM and the coarse kernel on the CPU. Shapes are
/// the LSTM's: the input projection for all steps, the recurrent step and the projection step.
/// </summary>
public class GemmBenchmarks
{
    ComputeDevice device = null!;
    Gemm gemm = null!;
    DeviceTensor<float> a = null!, b = null!, c = null!;

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "";

    /// <summary>M x N x K: 2560x16384x512 (x W_x over 20 steps of batch 128), 128x16384x512 (h W_h), 128x512x4096 (W_p).</summary>
    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    public static IEnumerable<string> Backends() => BenchmarkDevices.GemmBackends();

    public static IEnumerable<string> Shapes() => BenchmarkDevices.HasGpu
        ? ["2560x16384x512", "128x16384x512", "128x512x4096", "4096x4096x4096"]
        : ["128x1024x256", "512x512x512"];

    [GlobalSetup]
    public void Setup()
    {
        (device, gemm) = BenchmarkDevices.OpenGemm(Backend);
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        var random = new Random(1);
        a = device.Upload<float>(RandomData(random, dims[0] * dims[2]), dims[0], dims[2]);
        b = device.Upload<float>(RandomData(random, dims[2] * dims[1]), dims[2], dims[1]);
        c = device.Allocate<float>(new Shape(dims[0], dims[1]));
    }

    /// <summary>One GEMM, waited for; GFLOP/s = 2 M N K / time.</summary>
    [Benchmark]
    public void Multiply()
    {
        gemm.Multiply(device.Stream, a, false, b, false, c);
        device.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        a.Dispose(); b.Dispose(); c.Dispose();
        if (!ReferenceEquals(gemm, device.Gemm)) gemm.Dispose();
        device.Dispose();
    }

    static float[] RandomData(Random random, int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
}
