using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// The benchmark runner. `--inprocess` (needed on the GPU machine, which has the .NET runtime but no
/// SDK) runs BenchmarkDotNet's in-process toolchain; every other argument goes to BenchmarkDotNet
/// (e.g. `--filter *Gemm*`).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        bool inProcess = args.Contains("--inprocess");
        var rest = args.Where(a => a != "--inprocess").ToArray();
        IConfig config = DefaultConfig.Instance;
        if (inProcess)
            config = config.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
        return 0;
    }
}
