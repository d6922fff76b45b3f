using System.CommandLine;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Cli.Commands;

/// <summary>`elmo devices`: every accelerator ILGPU sees, which qualify and why not, and the one auto picks.</summary>
static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List the accelerators ILGPU sees, which can be used, and which --device auto picks");
        command.SetAction(_ =>
        {
            using var catalog = DeviceCatalog.Discover();
            Console.Out.Write(Render(catalog));
            return 0;
        });
        return command;
    }

    public static string Render(DeviceCatalog catalog)
    {
        var auto = catalog.AutoChoice;
        var rows = new List<string[]> { new[] { "", "device", "name", "memory", "warp", "max group", "capability", "usable" } };
        foreach (var d in catalog.Devices)
            rows.Add([
                ReferenceEquals(d, auto) ? "*" : "",
                $"--device {d.KindName} --device-index {d.IndexInKind}",
                d.Name,
                ComputeDevice.FormatBytes(d.MemoryBytes),
                d.WarpSize.ToString(),
                d.MaxThreadsPerGroup.ToString(),
                d.Capability,
                d.Qualifies ? "yes" : "no: " + d.WhyNot,
            ]);
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        text.AppendLine($"* = what --device auto picks: {auto.KindName} {auto.IndexInKind} ({auto.Name}).");
        if (!catalog.Devices.Any(d => d.Kind == DeviceKind.Cuda))
            text.AppendLine("No CUDA device (no NVIDIA driver or GPU found).");
        if (!catalog.Devices.Any(d => d.Kind == DeviceKind.OpenCL))
            text.AppendLine("No OpenCL device (no OpenCL runtime installed).");
        return text.ToString();
    }
}
