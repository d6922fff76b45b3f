using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace IlgpuElmo.Devices;

/// <summary>
/// Every accelerator ILGPU can see, with the one place that decides which qualify and which `auto` picks.
/// OpenCL devices are listed even when ILGPU cannot use them, so `elmo devices` can say why not.
/// </summary>
public sealed class DeviceCatalog : IDisposable
{
    DeviceCatalog(Context context, IReadOnlyList<DeviceDescription> devices)
    {
        Context = context;
        Devices = devices;
    }

    public Context Context { get; }
    public IReadOnlyList<DeviceDescription> Devices { get; }

    /// <summary>Creates a context over CPU, CUDA and all OpenCL devices (math intrinsics enabled).</summary>
    public static DeviceCatalog Discover()
    {
        OpenClLibrary.Install();
        var context = Context.Create(builder => builder
            .DefaultCPU()
            .Cuda()
            .OpenCL(_ => true)
            .EnableAlgorithms()
            .Optimize(OptimizationLevel.O2));
        var list = new List<DeviceDescription>();
        int cuda = 0, cl = 0, cpu = 0;
        foreach (var device in context)
        {
            switch (device)
            {
                case CudaDevice d:
                    bool known = d.Architecture.HasValue;
                    list.Add(new DeviceDescription(DeviceKind.Cuda, cuda++, d.Name, d.MemorySize, d.WarpSize,
                        d.MaxNumThreadsPerGroup, known ? $"SM {d.Architecture}" : "unknown architecture",
                        known, known ? null : "ILGPU does not know this GPU's architecture (update the driver or ILGPU)", d));
                    break;
                case CLDevice d:
                    string? why = null;
                    if (d.CLStdVersion < CLBackend.MinimumVersion)
                        why = $"OpenCL C {d.CLStdVersion} is below the {CLBackend.MinimumVersion} ILGPU needs";
                    else if (!d.Capabilities.GenericAddressSpace)
                        why = "no generic address space (ILGPU's OpenCL backend needs it)";
                    bool onCpu = d.DeviceType == CLDeviceType.CL_DEVICE_TYPE_CPU;
                    list.Add(new DeviceDescription(DeviceKind.OpenCL, cl++, $"{d.Name} [{d.PlatformName}]", d.MemorySize,
                        d.WarpSize, d.MaxNumThreadsPerGroup, $"OpenCL C {d.CLStdVersion}{(onCpu ? ", CPU device" : "")}", why is null, why, d, onCpu));
                    break;
                case CPUDevice d:
                    list.Add(new DeviceDescription(DeviceKind.Cpu, cpu++, "ILGPU CPU accelerator", HostMemoryBytes,
                        d.WarpSize, d.MaxNumThreadsPerGroup, $"{Environment.ProcessorCount} cores", true, null, d));
                    break;
            }
        }
        return new DeviceCatalog(context, list);
    }

    /// <summary>The CPU accelerator reports no real size; the memory this process may use is the honest figure.</summary>
    public static long HostMemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The device `auto` picks among this catalog's (<see cref="AutoChoiceAmong"/>).</summary>
    public DeviceDescription AutoChoice => AutoChoiceAmong(Devices);

    /// <summary>
    /// The first qualifying CUDA device, then the first qualifying OpenCL device that is not the host's own
    /// CPU, then the CPU accelerator. An OpenCL CPU device (PoCL, Intel's CPU runtime) runs our GPU-shaped
    /// kernels far slower than host execution runs the same maths, so only `--device opencl` picks it.
    /// </summary>
    public static DeviceDescription AutoChoiceAmong(IReadOnlyList<DeviceDescription> devices) =>
        devices.FirstOrDefault(d => d.Kind == DeviceKind.Cuda && d.Qualifies)
        ?? devices.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL && d.Qualifies && !d.OnHostCpu)
        ?? devices.First(d => d.Kind == DeviceKind.Cpu);

    /// <summary>Resolves the user's choice among this catalog's devices (<see cref="SelectAmong"/>).</summary>
    public DeviceDescription Select(DeviceOptions options) => SelectAmong(Devices, options);

    /// <summary>Resolves the user's choice, or throws naming the option and listing what there is.</summary>
    public static DeviceDescription SelectAmong(IReadOnlyList<DeviceDescription> devices, DeviceOptions options)
    {
        if (options.Kind == DeviceKind.Auto)
        {
            if (options.Index is null) return AutoChoiceAmong(devices);
            throw new DeviceSelectionException(
                $"--device-index {options.Index} needs a --device kind (cuda, opencl or cpu).\n{Listing(devices)}");
        }
        var ofKind = devices.Where(d => d.Kind == options.Kind).ToList();
        string kindName = options.Kind.ToString().ToLowerInvariant();
        if (ofKind.Count == 0)
            throw new DeviceSelectionException($"--device {kindName}: no {kindName} device found.\n{Listing(devices)}");
        int index = options.Index ?? ofKind.FindIndex(d => d.Qualifies);
        if (index < 0 || index >= ofKind.Count)
        {
            string what = options.Index is null
                ? $"no usable {kindName} device"
                : $"--device-index {options.Index} is out of range: there are {ofKind.Count} {kindName} device(s)";
            throw new DeviceSelectionException($"--device {kindName}: {what}.\n{Listing(devices)}");
        }
        var chosen = ofKind[index];
        if (!chosen.Qualifies)
            throw new DeviceSelectionException($"--device {kindName} --device-index {index}: {chosen.Name} cannot be used: {chosen.WhyNot}.\n{Listing(devices)}");
        return chosen;
    }

    /// <summary>A plain-text list of all devices, for error messages.</summary>
    public string Listing() => Listing(Devices);

    static string Listing(IReadOnlyList<DeviceDescription> devices) =>
        "Devices found:\n" + string.Join("\n", devices.Select(d => "  " + d));

    public void Dispose() => Context.Dispose();
}

/// <summary>The device asked for does not exist or cannot be used; the message lists what there is.</summary>
public sealed class DeviceSelectionException(string message) : Exception(message);
