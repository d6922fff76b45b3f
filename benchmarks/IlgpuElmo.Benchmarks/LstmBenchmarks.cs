using BenchmarkDotNet.Attributes;
using IlgpuElmo.Devices;
using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// ELMo's LSTM with projection at its real size on a GPU: batch 128, 20 steps, input 512, cells 4096,
/// projection 512 (the peer is PyTorch's cuDNN nn.LSTM(512, 4096, proj_size=512), benchmarks/peers/lstm_peer.py).
/// One layer-direction forward only, forward + backward, the same layer's GEMMs alone (so
/// forward+backward minus GEMMs = pointwise kernels + launch gaps), and the full 2-layer bidirectional
/// stack forward + backward the way training runs it (<see cref="BidirectionalLstm.ForwardBothStreams"/>:
/// each direction over its own stream of text, the two on two CUDA streams at once, carried state). fp32 and TF32 (cuBLAS tensor-op math) on CUDA;
/// on a machine without a GPU a small shape on the CPU (host execution), only to check the benchmark runs.
/// Every call ends with a device synchronisation, so a figure is the wall time of one full pass.
/// </summary>
public class LstmBenchmarks
{
    ComputeDevice device = null!;
    LstmProjectionLayer layer = null!;
    BidirectionalLstm lstm = null!;
    SequenceLengths lengths = null!;
    LstmState state = null!;
    DeviceTensor<float> input = null!, output = null!, outputGradient = null!, inputGradient = null!;
    DeviceTensor<float> bothInputs = null!, bothInputGradients = null!;
    int steps, batch, inputSize, hidden, projection;

    [ParamsSource(nameof(Configurations))]
    public string Configuration { get; set; } = "";

    public static IEnumerable<string> Configurations() =>
        BenchmarkDevices.HasGpu ? ["cuda-fp32", "cuda-tf32"] : ["cpu-host-small"];

    [GlobalSetup]
    public void Setup()
    {
        device = Configuration switch
        {
            "cuda-fp32" => ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda, null, Precision.Fp32)),
            "cuda-tf32" => ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda, null, Precision.Tf32)),
            _ => ComputeDevice.CreateCpu(CpuExecution.Host),
        };
        (steps, batch, inputSize, hidden, projection) = Configuration.StartsWith("cuda") ? (20, 128, 512, 4096, 512) : (20, 16, 64, 256, 64);
        var random = new Random(1);
        layer = new LstmProjectionLayer(device, "bench/LSTMCell", inputSize, hidden, projection, 3f, 3f);
        lstm = new BidirectionalLstm(device, 2, inputSize, hidden, projection, 3f, 3f, skipConnections: true);
        foreach (var p in layer.Parameters.Concat(lstm.Parameters))
            p.Value.CopyFrom(device.Stream, RandomData(random, p.Value.Length, 1f / MathF.Sqrt(p.Shape[0])));
        lengths = SequenceLengths.Full(device, batch, steps);
        input = device.Upload<float>(RandomData(random, steps * batch * inputSize, 1f), steps, batch, inputSize);
        output = device.Allocate<float>(new Shape(steps, batch, projection));
        outputGradient = device.Upload<float>(RandomData(random, steps * batch * projection, 1e-2f), steps, batch, projection);
        inputGradient = device.Allocate<float>(new Shape(steps, batch, inputSize));
        state = lstm.CreateState(batch);
        bothInputs = device.Upload<float>(RandomData(random, 2 * steps * batch * inputSize, 1f), 2 * steps, batch, inputSize);
        bothInputGradients = device.Allocate<float>(new Shape(2 * steps, batch, inputSize));
        // One untimed pass of each so workspaces are allocated and kernels compiled before BenchmarkDotNet's warm-up.
        LayerForwardBackward();
        BidirectionalForwardBackward();
    }

    /// <summary>One layer, one direction, forward over the window.</summary>
    [Benchmark]
    public void LayerForward()
    {
        layer.Forward(device.Stream, input, lengths, output);
        device.Synchronize();
    }

    /// <summary>One layer, one direction, forward and backward (all weight gradients and dL/dinput).</summary>
    [Benchmark]
    public void LayerForwardBackward()
    {
        layer.Forward(device.Stream, input, lengths, output);
        layer.Backward(device.Stream, outputGradient, inputGradient);
        device.Synchronize();
    }

    /// <summary>
    /// The GEMMs of <see cref="LayerForwardBackward"/> alone, same shapes and order, no pointwise kernels
    /// (the results are meaningless): the GEMM share of that figure.
    /// </summary>
    [Benchmark]
    public void LayerGemmsOnly()
    {
        var s = device.Stream;
        var gemm = device.Gemm;
        int rows = steps * batch, g4 = 4 * hidden;
        var w = layer.Kernel.Value;
        var wx = w.Slice(0, inputSize);
        var wh = w.Slice(inputSize, projection);
        var wp = layer.Projection.Value;
        var gates = Scratch("gates", rows, g4);
        var cellOutputs = Scratch("cellOutputs", rows, hidden);
        var projections = Scratch("projections", rows, projection);
        var states = Scratch("states", rows, projection);
        gemm.Multiply(s, input.Reshape(rows, inputSize), false, wx, false, gates);
        for (int t = 0; t < steps; t++)
        {
            gemm.Multiply(s, states.Slice(t * batch, batch), false, wh, false, gates.Slice(t * batch, batch), 1f, 1f);
            gemm.Multiply(s, cellOutputs.Slice(t * batch, batch), false, wp, false, projections.Slice(t * batch, batch));
        }
        var stateGradient = Scratch("stateGradient", batch, projection);
        var cellOutputGradient = Scratch("cellOutputGradient", batch, hidden);
        for (int t = steps - 1; t >= 0; t--)
        {
            gemm.Multiply(s, projections.Slice(t * batch, batch), false, wp, true, cellOutputGradient);
            gemm.Multiply(s, gates.Slice(t * batch, batch), false, wh, true, stateGradient, 1f, 1f);
        }
        var ones = Scratch("ones", 1, rows);
        gemm.Multiply(s, input.Reshape(rows, inputSize), true, gates, false, layer.Kernel.Gradient.Slice(0, inputSize), 1f, 1f);
        gemm.Multiply(s, states, true, gates, false, layer.Kernel.Gradient.Slice(inputSize, projection), 1f, 1f);
        gemm.Multiply(s, ones, false, gates, false, layer.Bias.Gradient.Reshape(1, g4), 1f, 1f);
        gemm.Multiply(s, cellOutputs, true, projections, false, layer.Projection.Gradient, 1f, 1f);
        gemm.Multiply(s, gates, false, wx, true, inputGradient.Reshape(rows, inputSize));
        device.Synchronize();
    }

    /// <summary>
    /// ELMo's whole biLM body as a training step runs it: 2 layers x 2 directions with skip connections, both
    /// directions at once on two streams, forward and backward from the top outputs.
    /// </summary>
    [Benchmark]
    public void BidirectionalForwardBackward()
    {
        lstm.ForwardBothStreams(bothInputs, lengths, state, 0f, 1, 2);
        lstm.BackwardBothStreams(outputGradient, outputGradient, bothInputGradients);
        device.Synchronize();
    }

    readonly Dictionary<string, DeviceTensor<float>> scratch = new();

    DeviceTensor<float> Scratch(string name, int rows, int columns)
    {
        if (!scratch.TryGetValue(name, out var tensor))
        {
            tensor = device.Allocate<float>(new Shape(rows, columns), name);
            tensor.Clear(device.Stream);
            scratch[name] = tensor;
        }
        return tensor;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in scratch.Values) t.Dispose();
        scratch.Clear();
        input.Dispose(); output.Dispose(); outputGradient.Dispose(); inputGradient.Dispose();
        bothInputs.Dispose(); bothInputGradients.Dispose(); state.Dispose();
        lengths.Dispose();
        layer.Dispose();
        lstm.Dispose();
        device.Dispose();
    }

    static float[] RandomData(Random random, long n, float scale)
    {
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return data;
    }
}
