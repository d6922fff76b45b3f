using BenchmarkDotNet.Attributes;
using IlgpuElmo.Devices;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// One training step of each softmax head, forward + backward, loss read back (what the trainer pays per
/// direction). On the GPU the sizes: N = 2560 rows (128 x 20), P = 512; full softmax V = 50,000;
/// sampled V = 793,471, S = 8192; adaptive V = 793,471, cutoffs [4000, 40000, 200000], div_value 4, no
/// head bias. Targets are log-uniform (Zipfian) draws, so the adaptive clusters get realistic row counts.
/// Without a GPU, the CPU host path at small sizes (N 256, P 64, V 5000 / 50,000) only checks the harness.
/// The peer is benchmarks/peers/softmax_peer.py (same sizes, same target distribution).
/// </summary>
public class SoftmaxBenchmarks
{
    ComputeDevice device = null!;
    ISoftmaxHead head = null!;
    DeviceTensor<float> hidden = null!, gradHidden = null!;
    DeviceTensor<int> targets = null!;
    int rows;

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "";

    [Params("full", "sampled", "adaptive")]
    public string Head { get; set; } = "";

    public static IEnumerable<string> Devices() => BenchmarkDevices.HasGpu ? ["cuda-fp32", "cuda-tf32"] : ["cpu-host"];

    [GlobalSetup]
    public void Setup()
    {
        bool gpu = Device.StartsWith("cuda");
        device = gpu
            ? ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda, null, Device.EndsWith("tf32") ? Precision.Tf32 : Precision.Fp32))
            : ComputeDevice.CreateCpu(CpuExecution.Host);
        rows = gpu ? 2560 : 256;
        int p = gpu ? 512 : 64, large = gpu ? 793_471 : 50_000;
        head = Head switch
        {
            "full" => new FullSoftmaxHead(device, gpu ? 50_000 : 5_000, p),
            "sampled" => new SampledSoftmaxHead(device, large, p, gpu ? 8192 : 1024, seed: 1),
            "adaptive" => new AdaptiveSoftmaxHead(device, large, p, gpu ? [4000, 40_000, 200_000] : [2000, 10_000, 25_000], 4f),
            _ => throw new ArgumentException($"Unknown head '{Head}'."),
        };
        var random = new Random(1);
        foreach (var parameter in head.Parameters)
        {
            float bound = 1f / MathF.Sqrt(parameter.Shape[-1]);
            parameter.Value.CopyFrom(device.Stream, Uniform(random, parameter.Value.Length, bound));
        }
        hidden = device.Upload<float>(Uniform(random, (long)rows * p, 1f), rows, p);
        gradHidden = device.Allocate<float>(new Shape(rows, p));
        var sampler = new LogUniformSampler(head.VocabularySize, 1, 7);
        ulong state = sampler.StateFor(0);
        targets = device.Upload<int>(Enumerable.Range(0, rows).Select(_ => sampler.Draw(ref state)).ToArray(), rows);
        device.Synchronize();
    }

    /// <summary>Forward + backward of one step; returns when the loss is on the host.</summary>
    [Benchmark]
    public double ForwardBackward()
    {
        head.BeginStep(device.Stream);
        return head.ForwardBackward(device.Stream, hidden, targets, gradHidden, 1f / rows);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        head.Dispose();
        hidden.Dispose();
        gradHidden.Dispose();
        targets.Dispose();
        device.Dispose();
    }

    static float[] Uniform(Random random, long n, float bound)
    {
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return data;
    }
}
