using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// The benchmark runner: every argument goes to BenchmarkDotNet (e.g. `--filter *Gemm*`, `--job short`,
/// `--iterationTime 150`), and every report has a median column. `--inprocess` (needed on the GPU machine,
/// which has the .NET runtime but no SDK to build BenchmarkDotNet's usual child process) is passed on as
/// BenchmarkDotNet's own `--inProcess`, which gives the job from the other options the in-process
/// toolchain, so `--job` and the iteration options still apply. Exits 1 when a benchmark failed.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var forwarded = args.Select(a => a == "--inprocess" ? "--inProcess" : a).ToArray();
        var config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(forwarded, config);
        // Exit 1 when a benchmark failed (an exception in its setup, a validation error): scripts see it.
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
