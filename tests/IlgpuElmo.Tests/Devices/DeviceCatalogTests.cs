using IlgpuElmo.Cli.Commands;
using IlgpuElmo.Devices;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Tests.Devices;

public class DeviceCatalogTests
{
    [Fact]
    public void AutoPicksAQualifyingDeviceAndTheCpuIsAlwaysThere()
    {
        using var catalog = DeviceCatalog.Discover();
        Assert.Contains(catalog.Devices, d => d.Kind == DeviceKind.Cpu && d.Qualifies);
        var auto = catalog.AutoChoice;
        Assert.True(auto.Qualifies);
        if (catalog.Devices.Any(d => d.Kind == DeviceKind.Cuda && d.Qualifies)) Assert.Equal(DeviceKind.Cuda, auto.Kind);
        Assert.Same(auto, catalog.Select(new DeviceOptions()));
    }

    /// <summary>
    /// A machine with PoCL on its CPU and no GPU: auto keeps the CPU accelerator (host execution), while
    /// `--device opencl` still opens PoCL and `elmo devices` lists it; an OpenCL GPU is preferred to the CPU.
    /// </summary>
    [Fact]
    public void AutoNeverPrefersAnOpenClCpuDeviceToTheCpuAccelerator()
    {
        var shape = ILGPU.Runtime.CPU.CPUDevice.Default;
        DeviceDescription Fake(DeviceKind kind, int index, string name, bool onHostCpu) =>
            new(kind, index, name, 1L << 30, 8, 256, "fake", true, null, shape, onHostCpu);
        var pocl = Fake(DeviceKind.OpenCL, 0, "cpu-znver5 [Portable Computing Language]", onHostCpu: true);
        var cpu = Fake(DeviceKind.Cpu, 0, "ILGPU CPU accelerator", onHostCpu: false);
        IReadOnlyList<DeviceDescription> machine = [pocl, cpu];
        Assert.Same(cpu, DeviceCatalog.AutoChoiceAmong(machine));
        Assert.Same(cpu, DeviceCatalog.SelectAmong(machine, new DeviceOptions()));
        Assert.Same(pocl, DeviceCatalog.SelectAmong(machine, new DeviceOptions(DeviceKind.OpenCL)));

        var gpu = Fake(DeviceKind.OpenCL, 1, "Radeon [AMD Accelerated Parallel Processing]", onHostCpu: false);
        Assert.Same(gpu, DeviceCatalog.AutoChoiceAmong([pocl, gpu, cpu]));
    }

    [Fact]
    public void AskingForAMissingKindIsAnErrorListingWhatThereIs()
    {
        using var catalog = DeviceCatalog.Discover();
        foreach (var kind in new[] { DeviceKind.Cuda, DeviceKind.OpenCL })
        {
            if (catalog.Devices.Any(d => d.Kind == kind && d.Qualifies)) continue;
            var e = Assert.Throws<DeviceSelectionException>(() => catalog.Select(new DeviceOptions(kind)));
            Assert.Contains($"--device {kind.ToString().ToLowerInvariant()}", e.Message);
            Assert.Contains("cpu:0", e.Message);
        }
        var bad = Assert.Throws<DeviceSelectionException>(() => catalog.Select(new DeviceOptions(DeviceKind.Cpu, 7)));
        Assert.Contains("--device-index 7", bad.Message);
    }

    [Fact]
    public void OptionTextIsParsedOrRejectedByName()
    {
        Assert.Equal(DeviceKind.OpenCL, DeviceOptions.ParseKind("OpenCL"));
        Assert.Equal(Precision.Tf32, DeviceOptions.ParsePrecision("tf32"));
        Assert.Contains("--device", Assert.Throws<ArgumentException>(() => DeviceOptions.ParseKind("tpu")).Message);
        Assert.Contains("--precision", Assert.Throws<ArgumentException>(() => DeviceOptions.ParsePrecision("fp8")).Message);
    }

    [Fact]
    public void DevicesListingMarksTheAutoChoice()
    {
        using var catalog = DeviceCatalog.Discover();
        string text = DevicesCommand.Render(catalog);
        Assert.Contains("--device cpu --device-index 0", text);
        Assert.Contains("* = what --device auto picks", text);
        Assert.StartsWith("   device", text.Split('\n')[0].PadLeft(9));
    }
}
