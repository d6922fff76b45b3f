using BenchmarkDotNet.Attributes;
using IlgpuElmo.Devices;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// ScalarMix forward and forward+backward with layer norm over masked positions, at the original ELMo's
/// width: 3 layers of [T=50, B=64, D=1024] on a GPU (smaller on the CPU). The PyTorch peer is
/// benchmarks/peers/scalar_mix.py (allennlp's ScalarMix arithmetic, same shapes).
/// </summary>
public class ScalarMixBenchmarks
{
    ComputeDevice device = null!;
    ScalarMix mix = null!;
    DeviceTensor<float> layers = null!, output = null!, gradOutput = null!, gradLayers = null!;
    DeviceTensor<int> lengths = null!;

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "";

    [Params(false, true)]
    public bool LayerNorm { get; set; }

    public static IEnumerable<string> Devices() => BenchmarkDevices.HasGpu ? ["cuda", "cpu-host"] : ["cpu-host"];

    [GlobalSetup]
    public void Setup()
    {
        device = Device == "cuda" ? ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda)) : ComputeDevice.CreateCpu(CpuExecution.Host);
        (int t, int b, int d) = Device == "cuda" ? (50, 64, 1024) : (20, 16, 256);
        var random = new Random(1);
        float[] Data(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        layers = device.Upload<float>(Data(3 * t * b * d), 3, t, b, d);
        gradOutput = device.Upload<float>(Data(t * b * d), t, b, d);
        output = device.Allocate<float>(new Shape(t, b, d));
        gradLayers = device.Allocate<float>(new Shape(3, t, b, d));
        // Sentence lengths 5..t as in a length-bucketed batch of real text.
        lengths = device.Upload<int>(Enumerable.Range(0, b).Select(i => 5 + i * (t - 5) / Math.Max(1, b - 1)).ToArray(), b);
        mix = new ScalarMix(device, 3, LayerNorm, initialScalars: [0.1f, 0.2f, 0.3f]);
        Forward();
    }

    [Benchmark]
    public void Forward()
    {
        mix.Forward(layers, lengths, output);
        device.Synchronize();
    }

    [Benchmark]
    public void ForwardBackward()
    {
        mix.Forward(layers, lengths, output);
        mix.Backward(gradOutput, gradLayers);
        device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        mix.Dispose();
        layers.Dispose(); output.Dispose(); gradOutput.Dispose(); gradLayers.Dispose(); lengths.Dispose();
        device.Dispose();
    }
}
