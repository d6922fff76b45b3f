using BenchmarkDotNet.Attributes;
using IlgpuElmo.Devices;
using IlgpuElmo.Encoders;
using IlgpuElmo.Tensors;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// The original ELMo char CNN (dim 16, filters [[1,32],[2,32],[3,64],[4,128],[5,256],[6,512],[7,1024]],
/// 2 highway layers, projection to 512, relu) on 2560 tokens (e.g. 20 steps x batch 128) on CUDA, 256
/// on the CPU host path; forward alone and forward + backward. Tokens are random lowercase words of
/// 1-12 letters. Peer: benchmarks/peers/encoder_peer.py (the same model with nn.Conv1d).
/// </summary>
public class CharCnnBenchmarks
{
    ComputeDevice device = null!;
    CharacterEncoder encoder = null!;
    DeviceTensor<int> ids = null!;
    DeviceTensor<float> output = null!, gradOutput = null!;

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "";

    public static IEnumerable<string> Devices() => BenchmarkDevices.HasGpu
        ? ["cuda-fp32", "cuda-tf32", "cpu-host"]
        : ["cpu-host"];

    [GlobalSetup]
    public void Setup()
    {
        device = Device.StartsWith("cuda")
            ? ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda, null, Device.EndsWith("tf32") ? Precision.Tf32 : Precision.Fp32))
            : ComputeDevice.CreateCpu(CpuExecution.Host);
        int tokens = Device.StartsWith("cuda") ? 2560 : 256;
        encoder = new CharacterEncoder(device, CharCnnOptions.OriginalElmo, projectionDim: 512);
        encoder.Initialize(seed: 1);
        var random = new Random(3);
        var words = Enumerable.Range(0, tokens)
            .Select(_ => new string(Enumerable.Range(0, random.Next(1, 13)).Select(_ => (char)('a' + random.Next(26))).ToArray()))
            .ToArray();
        var charIds = new int[tokens * CharacterMapper.MaxCharacters];
        new CharacterMapper().Write(words, charIds);
        ids = device.Upload<int>(charIds, tokens, CharacterMapper.MaxCharacters);
        output = device.Allocate<float>(new Shape(tokens, 512));
        gradOutput = device.Upload<float>(Enumerable.Range(0, tokens * 512).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(), tokens, 512);
        Forward();
        ForwardBackward();
    }

    [Benchmark]
    public void Forward()
    {
        encoder.Forward(device.Stream, ids, output);
        device.Stream.Synchronize();
    }

    [Benchmark]
    public void ForwardBackward()
    {
        encoder.Forward(device.Stream, ids, output);
        encoder.Backward(device.Stream, gradOutput);
        device.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        ids.Dispose(); output.Dispose(); gradOutput.Dispose(); encoder.Dispose();
        device.Dispose();
    }
}
