using System.Collections.Concurrent;
using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace IlgpuElmo.Devices;

/// <summary>
/// The accelerator everything runs on, chosen in one place from <see cref="DeviceOptions"/>: its streams,
/// its GEMM, its kernel launchers (each family loaded once and kept) and allocation that turns
/// out-of-memory into an error saying what to lower.
/// </summary>
public sealed class ComputeDevice : ITensorAllocator, IDisposable
{
    readonly Context context;
    readonly IDisposable? ownedCatalog;
    readonly ConcurrentDictionary<Type, object> kernelFamilies = new();

    ComputeDevice(Context context, IDisposable? ownedCatalog, DeviceDescription description, Accelerator accelerator,
        DeviceOptions options, TextWriter log)
    {
        this.context = context;
        this.ownedCatalog = ownedCatalog;
        Description = description;
        Accelerator = accelerator;
        Options = options;
        bool host = accelerator.AcceleratorType == AcceleratorType.CPU && options.CpuExecution == CpuExecution.Host;
        Runtime = new KernelRuntime(accelerator, host);
        // CUDA's default stream is the legacy NULL stream, which serialises with everything: use our own.
        Precision = options.Precision ?? Linalg.Precision.Fp32;
        Stream = accelerator.AcceleratorType == AcceleratorType.Cuda ? accelerator.CreateStream() : accelerator.DefaultStream;
        SecondStream = accelerator.AcceleratorType == AcceleratorType.Cuda ? accelerator.CreateStream() : accelerator.DefaultStream;
        Staging = new UploadStaging(Stream, log: log);
        Gemm = new Gemm(CreateGemmBackend(log));
    }

    /// <summary>Opens the device the options name (see <see cref="DeviceCatalog.Select"/> for the rules).</summary>
    public static ComputeDevice Create(DeviceOptions options, TextWriter? log = null)
    {
        var catalog = DeviceCatalog.Discover();
        try
        {
            var chosen = catalog.Select(options);
            var accelerator = chosen.IlgpuDevice.CreateAccelerator(catalog.Context);
            return new ComputeDevice(catalog.Context, catalog, chosen, accelerator, options, log ?? Console.Error);
        }
        catch
        {
            catalog.Dispose();
            throw;
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator alone (no GPU discovery): what the tests and CPU runs use. <paramref name="shape"/>
    /// picks the simulated GPU's warp and group sizes (e.g. <see cref="CPUDevice.Nvidia"/>: warp 32, groups of 1024);
    /// by default ILGPU's 4-wide warps in groups of 16.
    /// </summary>
    public static ComputeDevice CreateCpu(CpuExecution execution = CpuExecution.Host, TextWriter? log = null, CPUDevice? shape = null)
    {
        var context = Context.Create(b => (shape is null ? b.DefaultCPU() : b.CPU(shape)).EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var device = context.GetCPUDevice(0);
        var description = new DeviceDescription(DeviceKind.Cpu, 0, "ILGPU CPU accelerator", DeviceCatalog.HostMemoryBytes,
            device.WarpSize, device.MaxNumThreadsPerGroup, $"{Environment.ProcessorCount} cores", true, null, device);
        return new ComputeDevice(context, context, description, device.CreateAccelerator(context),
            new DeviceOptions(DeviceKind.Cpu, 0, Precision.Fp32, execution), log ?? Console.Error);
    }

    public DeviceDescription Description { get; }
    public DeviceOptions Options { get; }
    public Accelerator Accelerator { get; }
    public KernelRuntime Runtime { get; }
    public AcceleratorType Type => Accelerator.AcceleratorType;
    public bool RunsOnHost => Runtime.RunOnHost;

    /// <summary>The stream all work goes on unless a caller overlaps independent work on <see cref="SecondStream"/>.</summary>
    public AcceleratorStream Stream { get; }

    /// <summary>A second stream for independent work (e.g. the backward LSTM direction); the same as Stream off CUDA.</summary>
    public AcceleratorStream SecondStream { get; }

    public Gemm Gemm { get; }

    /// <summary>Page-locked staging for uploads on <see cref="Stream"/>: copies in without a host wait.</summary>
    public UploadStaging Staging { get; }

    /// <summary>Launches, host waits, copies and allocations on this device so far.</summary>
    public DeviceCounters Counters => Runtime.Counters;

    /// <summary>The GEMM precision asked for: `--precision` when given, else the model options' (<see cref="ApplyModelPrecision"/>).</summary>
    public Precision Precision { get; private set; }

    /// <summary>
    /// The options file's `precision` applies unless the command line named one (the flag overrides).
    /// Only cuBLAS computes in TF32; our kernels and the host GEMM compute in FP32 whatever is asked.
    /// </summary>
    public void ApplyModelPrecision(Precision fromOptions)
    {
        if (Options.Precision is not null) return;
        Precision = fromOptions;
        if (Gemm.Backend is CuBlasGemm cublas) cublas.Precision = fromOptions;
    }

    /// <summary>The option a user should lower when memory runs out; set by the command that opened the device.</summary>
    public string MemoryHint { get; set; } = "lower --batch-size (or the model size)";

    /// <summary>The launcher family <typeparamref name="T"/>, loaded (compiled) on first use and kept.</summary>
    public T Kernels<T>(Func<KernelRuntime, T> load) where T : class =>
        (T)kernelFamilies.GetOrAdd(typeof(T), _ => load(Runtime));

    /// <summary>Allocates a tensor; out-of-memory becomes a <see cref="DeviceMemoryException"/> naming sizes and the option to lower.</summary>
    public DeviceTensor<T> Allocate<T>(Shape shape, string what = "tensor") where T : unmanaged
    {
        long bytes = shape.Size * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        try
        {
            Counters.CountAllocation();
            return new DeviceTensor<T>(Accelerator.Allocate1D<T>(Math.Max(1, shape.Size)), shape);
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            throw new DeviceMemoryException(
                $"Out of memory on {Description.Name}: {what} {shape} needs {FormatBytes(bytes)}, " +
                $"{FreeMemoryText()}. To fit, {MemoryHint}.", e);
        }
    }

    /// <summary>Allocates and fills a tensor from host data.</summary>
    public DeviceTensor<T> Upload<T>(ReadOnlySpan<T> data, params int[] dims) where T : unmanaged
    {
        var tensor = Allocate<T>(new Shape(dims));
        tensor.CopyFrom(Stream, data);
        return tensor;
    }

    /// <summary>Waits for both streams (counted host synchronisations).</summary>
    public void Synchronize()
    {
        DeviceCounters.Wait(Stream);
        if (!ReferenceEquals(SecondStream, Stream)) DeviceCounters.Wait(SecondStream);
    }

    IGemmBackend CreateGemmBackend(TextWriter log)
    {
        GemmKernels Kernels() => this.Kernels(rt => new GemmKernels(rt));
        switch (Accelerator)
        {
            case CudaAccelerator cuda:
                try
                {
                    return new CuBlasGemm(cuda, Precision);
                }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or CuBlasException)
                {
                    log.WriteLine($"warning: cuBLAS could not be loaded ({e.GetType().Name}: {e.Message}); using our tiled GEMM kernel.");
                    return new KernelGemm(Kernels(), tiled: true);
                }
            case CLAccelerator:
                return new KernelGemm(Kernels(), tiled: true);
            default:
                return RunsOnHost ? new HostGemm() : new KernelGemm(Kernels(), tiled: false);
        }
    }

    static bool IsOutOfMemory(Exception e) => e switch
    {
        OutOfMemoryException or InsufficientMemoryException => true,
        CudaException c => c.Error.ToString().Contains("OUT_OF_MEMORY", StringComparison.OrdinalIgnoreCase),
        CLException c => c.Error.ToString().Contains("ALLOCATION", StringComparison.OrdinalIgnoreCase)
                         || c.Error.ToString().Contains("OUT_OF_RESOURCES", StringComparison.OrdinalIgnoreCase),
        _ => e.InnerException is not null && IsOutOfMemory(e.InnerException),
    };

    string FreeMemoryText()
    {
        if (Accelerator is CudaAccelerator && CudaAPI.CurrentAPI.GetMemoryInfo(out long free, out long total) == CudaError.CUDA_SUCCESS)
            return $"{FormatBytes(free)} free of {FormatBytes(total)}";
        // ILGPU's CPU accelerator reports long.MaxValue as its memory; the description holds the real size (the host's for the CPU).
        return $"the device has {FormatBytes(Description.MemoryBytes)} in all";
    }

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };

    public void Dispose()
    {
        Gemm.Dispose();
        Staging.Dispose();
        if (!ReferenceEquals(Stream, Accelerator.DefaultStream)) Stream.Dispose();
        if (!ReferenceEquals(SecondStream, Accelerator.DefaultStream)) SecondStream.Dispose();
        Accelerator.Dispose();
        if (ownedCatalog is not null) ownedCatalog.Dispose();
        else context.Dispose();
    }
}
