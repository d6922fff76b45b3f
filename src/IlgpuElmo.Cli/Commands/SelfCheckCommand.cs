using System.CommandLine;
using System.Diagnostics;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Cli.Commands;

/// <summary>`elmo selfcheck`: GEMM on the chosen device against a float64 host computation, every transpose, plus a throughput figure.</summary>
static class SelfCheckCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var command = new Command("selfcheck", "Check the GEMM on the chosen device against float64 and time it");
        device.AddTo(command);
        command.SetAction(result =>
        {
            using var dev = ComputeDevice.Create(device.Parse(result));
            return Run(dev, Console.Out) ? 0 : 1;
        });
        return command;
    }

    public static bool Run(ComputeDevice dev, TextWriter output)
    {
        output.WriteLine($"device: {dev.Description.KindName} {dev.Description.Name}; GEMM: {dev.Gemm.Backend.Name}");
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
                    double worst = 0;
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double sum = 0;
                            for (int q = 0; q < k; q++)
                                sum += (double)a[ta ? q * m + i : i * k + q] * b[tb ? j * k + q : q * n + j];
                            worst = Math.Max(worst, Math.Abs(sum - c[i * n + j]) / (1 + Math.Abs(sum)));
                        }
                    bool pass = worst < 1e-4;
                    ok &= pass;
                    output.WriteLine($"  gemm {m}x{n}x{k} transA={ta,-5} transB={tb,-5} max rel error {worst:E2} {(pass ? "ok" : "FAIL")}");
                }
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

    static float[] Random(Random random, int n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}
