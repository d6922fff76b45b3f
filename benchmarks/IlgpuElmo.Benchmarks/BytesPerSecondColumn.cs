using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IlgpuElmo.Benchmarks;

/// <summary>
/// A "GB/s" column: bytes a benchmark moves per call (given by <paramref name="bytesOf"/>, from the
/// case) divided by its measured mean time.
/// </summary>
public sealed class BytesPerSecondColumn(Func<BenchmarkCase, double> bytesOf) : IColumn
{
    public string Id => nameof(BytesPerSecondColumn);
    public string ColumnName => "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Bytes read + written per call / mean time, in 1e9 bytes per second";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        double bytes = bytesOf(benchmarkCase);
        if (stats is null || bytes <= 0) return "-";
        return (bytes / stats.Mean).ToString("F1"); // bytes per nanosecond = GB/s
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
