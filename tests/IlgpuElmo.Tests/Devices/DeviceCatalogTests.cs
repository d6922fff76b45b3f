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
