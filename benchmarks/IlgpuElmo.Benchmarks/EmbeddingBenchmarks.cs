using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using IlgpuElmo.Devices;
using IlgpuElmo.Encoders;
using IlgpuElmo.Kernels;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// Word-embedding gather and its scatter-add backward: 65,536 ids x 512 columns from a 100,000-row table
/// (uniform random ids) on CUDA, a quarter of the ids on the CPU host path. GB/s counts bytes read +
/// written: gather reads the ids and N rows and writes N rows; scatter-add reads the ids and N gradient
/// rows and reads + writes N table rows (segmented: the touched rows once each, plus the plan).
/// Peer: benchmarks/peers/encoder_peer.py (torch gather / index_add_).
/// </summary>
[Config(typeof(Config))]
public class EmbeddingBenchmarks
{
    const int Rows = 100_000, Dim = 512;
    ComputeDevice device = null!;
    EmbeddingKernels kernels = null!;
    RowSegments segments = null!;
    DeviceTensor<float> table = null!, output = null!, tableGrad = null!;
    DeviceTensor<int> ids = null!;
    int[] hostIds = [];

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "";

    public static IEnumerable<string> Devices() => BenchmarkDevices.HasGpu ? ["cuda", "cpu-host"] : ["cpu-host"];

    static int IdCount(string device) => device == "cuda" ? 65_536 : 16_384;

    sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new BytesPerSecondColumn(c =>
        {
            int n = IdCount((string)c.Parameters["Device"]);
            double row = Dim * 4.0;
            return c.Descriptor.WorkloadMethod.Name switch
            {
                nameof(Gather) => n * 4.0 + 2 * n * row,
                nameof(ScatterAddAtomic) => n * 4.0 + 3 * n * row,
                nameof(ScatterAddSegmented) => n * 8.0 + n * row + 2 * UniqueRows(n) * row,
                _ => 0,
            };
        }));
    }

    /// <summary>Unique rows among the benchmark's ids (same seed as Setup).</summary>
    static int UniqueRows(int n) => RandomIds(n).Distinct().Count();

    static int[] RandomIds(int n)
    {
        var random = new Random(1);
        return Enumerable.Range(0, n).Select(_ => random.Next(Rows)).ToArray();
    }

    [GlobalSetup]
    public void Setup()
    {
        device = Device == "cuda" ? ComputeDevice.Create(new DeviceOptions(DeviceKind.Cuda)) : ComputeDevice.CreateCpu(CpuExecution.Host);
        kernels = device.Kernels(rt => new EmbeddingKernels(rt));
        int n = IdCount(Device);
        var random = new Random(2);
        table = device.Upload<float>(Enumerable.Range(0, Rows * Dim).Select(_ => (float)random.NextDouble()).ToArray(), Rows, Dim);
        tableGrad = device.Allocate<float>(new Shape(Rows, Dim));
        tableGrad.Clear(device.Stream);
        output = device.Allocate<float>(new Shape(n, Dim));
        hostIds = RandomIds(n);
        ids = device.Upload<int>(hostIds, n);
        segments = new RowSegments(device, Rows);
        segments.Update(device.Stream, hostIds, "benchmark ids");
        device.Synchronize();
    }

    [Benchmark]
    public void Gather()
    {
        kernels.Gather(device.Stream, table.View, Dim, ids.View, output.View);
        device.Stream.Synchronize();
    }

    /// <summary>The gathered output doubles as the row gradients.</summary>
    [Benchmark]
    public void ScatterAddAtomic()
    {
        kernels.ScatterAdd(device.Stream, output.View, Dim, ids.View, tableGrad.View);
        device.Stream.Synchronize();
    }

    [Benchmark]
    public void ScatterAddSegmented()
    {
        kernels.SegmentedScatterAdd(device.Stream, output.View, Dim, segments.Views, segments.Count, tableGrad.View);
        device.Stream.Synchronize();
    }

    /// <summary>The host side of the deterministic mode: range check, counting sort, upload.</summary>
    [Benchmark]
    public void PlanSegmentsOnHost()
    {
        segments.Update(device.Stream, hostIds, "benchmark ids");
        device.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        table.Dispose(); output.Dispose(); tableGrad.Dispose(); ids.Dispose(); segments.Dispose();
        device.Dispose();
    }
}
