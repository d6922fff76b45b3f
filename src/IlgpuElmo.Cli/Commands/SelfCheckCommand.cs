using System.CommandLine;
using System.Diagnostics;
using IlgpuElmo.Checks;
using IlgpuElmo.Devices;
using IlgpuElmo.Linalg;
using IlgpuElmo.Model;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo selfcheck`: GEMM on the chosen device against a float64 host computation, every transpose, the
/// arithmetic it measurably computes in (<see cref="GemmPrecisionCheck"/>) against the precision asked,
/// plus a throughput figure. With --train, training and embedding on the chosen device against the CPU
/// host path instead (<see cref="TrainingCrossCheck"/>), for every softmax head.
/// </summary>
static class SelfCheckCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var train = new Option<bool>("--train")
        {
            Description = "Train small models on the device and on the CPU host path over the same windows, then embed; " +
                          "compare losses, gradient norms, every parameter and every layer (exit 1 naming the worst on a mismatch)",
        };
        var steps = new Option<int>("--steps") { Description = "Training steps per model (--train)", DefaultValueFactory = _ => 3 };
        var size = new Option<string>("--size")
        {
            Description = "Model size for --train: small (for a GPU) | tiny (for --cpu-execution simulate)",
            DefaultValueFactory = _ => "small",
        };
        var command = new Command("selfcheck", "Check the GEMM on the chosen device against float64 and time it (--train: check training against the CPU)");
        command.Options.Add(train);
        command.Options.Add(steps);
        command.Options.Add(size);
        device.AddTo(command);
        command.SetAction(result =>
        {
            using var dev = ComputeDevice.Create(device.Parse(result));
            if (!result.GetValue(train)) return Run(dev, Console.Out) ? 0 : 1;
            OptionChecks.AtLeast(result.GetValue(steps), 1, "--steps");
            var checkSize = result.GetValue(size) switch
            {
                "small" => CrossCheckSize.Small,
                "tiny" => CrossCheckSize.Tiny,
                var other => throw new InputException($"--size '{other}': use small or tiny."),
            };
            using var host = ComputeDevice.CreateCpu(CpuExecution.Host, TextWriter.Null);
            return RunTraining(dev, host, checkSize, result.GetValue(steps), Console.Out) ? 0 : 1;
        });
        return command;
    }

    /// <summary>
    /// The training check of every case on <paramref name="dev"/> against <paramref name="host"/>; prints one line
    /// per case (its worst quantity), every failing quantity, and which was worst overall. <paramref name="injectFault"/>: tests only.
    /// </summary>
    public static bool RunTraining(ComputeDevice dev, ComputeDevice host, CrossCheckSize size, int steps, TextWriter output,
        Action<BidirectionalLanguageModel>? injectFault = null)
    {
        var tolerances = CrossCheckTolerances.For(dev.Precision);
        string asked = dev.Precision.ToString().ToLowerInvariant();
        bool twoStreams = !ReferenceEquals(dev.Stream, dev.SecondStream);
        output.WriteLine($"device: {dev.Description.KindName} {dev.Description.Name}; execution: {Execution(dev)}; GEMM: {dev.Gemm.Backend.Name}; precision asked: {asked}; " +
                         (twoStreams ? "two streams (the directions run at once)" : "one stream"));
        output.WriteLine($"reference: CPU host execution ({host.Description.Capability}); {size.ToString().ToLowerInvariant()} models, {steps} steps each");
        output.WriteLine($"tolerances ({asked}, relative): loss {F(tolerances.Loss)}, gradient norm {F(tolerances.GradientNorm)}, " +
                         $"parameter change {F(tolerances.ParameterChange)}, embedding {F(tolerances.Embedding)}");
        var reports = new List<TrainingCrossCheck.Report>();
        foreach (var c in TrainingCrossCheck.Cases(size))
        {
            var report = TrainingCrossCheck.Run(dev, host, c, steps, tolerances, injectFault);
            reports.Add(report);
            output.WriteLine($"  {c.Name} ({c.Exercises}): {report.Quantities.Count} quantities; largest errors: {report.WorstByKind()}; {(report.Passed ? "ok" : "FAILED")}");
            foreach (var q in report.Quantities.Where(q => !q.Passed).OrderByDescending(q => q.Severity).Take(10))
                output.WriteLine($"    {q}");
        }
        var worst = reports.Select(r => (r.Case, Quantity: r.Worst)).MaxBy(w => w.Quantity.Severity);
        bool passed = reports.All(r => r.Passed);
        output.WriteLine(passed
            ? $"selfcheck --train passed (worst: {worst.Case.Name} {worst.Quantity})"
            : $"selfcheck --train FAILED: worst {worst.Case.Name} {worst.Quantity.Name}: {F(worst.Quantity.Error)} > tolerance {F(worst.Quantity.Tolerance)}");
        return passed;
    }

    static string F(double value) => CheckedQuantity.Format(value);

    static string Execution(ComputeDevice dev) =>
        dev.Type != ILGPU.Runtime.AcceleratorType.CPU ? "kernels" : dev.RunsOnHost ? "host" : "simulate";

    public static bool Run(ComputeDevice dev, TextWriter output)
    {
        string asked = dev.Precision.ToString().ToLowerInvariant();
        double tolerance = GemmPrecisionCheck.ProductTolerance(dev.Precision);
        output.WriteLine($"device: {dev.Description.KindName} {dev.Description.Name}; GEMM: {dev.Gemm.Backend.Name}; precision asked: {asked}");
        var random = new Random(1234);
        bool ok = true;
        foreach (var (m, n, k) in new[] { (1, 7, 33), (33, 129, 7), (64, 96, 80) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    float[] a = Random(random, m * k), b = Random(random, k * n);
                    using var da = dev.Upload<float>(a, ta ? [k, m] : [m, k]);
                    using var db = dev.Upload<float>(b, tb ? [n, k] : [k, n]);
                    using var dc = dev.Allocate<float>(new([m, n]));
                    dev.Gemm.Multiply(dev.Stream, da, ta, db, tb, dc);
                    var c = dc.ToArray(dev.Stream);
                    double worst = GemmPrecisionCheck.NormwiseError(ta ? Transpose(a, k, m) : a, tb ? Transpose(b, n, k) : b, c, m, n, k);
                    bool pass = worst <= tolerance;
                    ok &= pass;
                    output.WriteLine($"  gemm {m}x{n}x{k} transA={ta,-5} transB={tb,-5} max normwise error {worst:E2} (tolerance {tolerance:E0}) {(pass ? "ok" : "FAIL")}");
                }
        var precision = GemmPrecisionCheck.Run(dev, dev.Stream, dev.Gemm, dev.Precision);
        foreach (var (probe, error) in precision.InputErrors)
            output.WriteLine($"  input rounding, {probe}: max relative error {error:E2}");
        output.WriteLine($"  product U(-1,1) 128^3: max normwise error {precision.ProductError:E2} (tolerance {tolerance:E0})");
        output.WriteLine($"  math measured: {precision.MeasuredText}; {asked} asked: {(precision.Passed ? "ok" : "FAIL")}");
        ok &= precision.Passed;
        int size = dev.RunsOnHost || dev.Type != ILGPU.Runtime.AcceleratorType.CPU ? 512 : 128;
        using (var x = dev.Upload<float>(Random(random, size * size), size, size))
        using (var y = dev.Allocate<float>(new([size, size])))
        {
            dev.Gemm.Multiply(dev.Stream, x, false, x, false, y);
            dev.Synchronize();
            var watch = Stopwatch.StartNew();
            int reps = 0;
            while (watch.Elapsed.TotalSeconds < 0.5)
            {
                dev.Gemm.Multiply(dev.Stream, x, false, x, false, y);
                dev.Synchronize();
                reps++;
            }
            double gflops = 2.0 * size * size * size * reps / watch.Elapsed.TotalSeconds / 1e9;
            output.WriteLine($"  gemm {size}^3 throughput: {gflops:F2} GFLOP/s ({reps} runs)");
        }
        output.WriteLine(ok ? "selfcheck passed" : "selfcheck FAILED");
        return ok;
    }

    /// <summary>The row-major [cols, rows] transpose of a row-major [rows, cols] matrix.</summary>
    static float[] Transpose(float[] x, int rows, int cols)
    {
        var t = new float[x.Length];
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
                t[q * rows + r] = x[r * cols + q];
        return t;
    }

    static float[] Random(Random random, int n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}
