using ILGPU.Runtime.OpenCL;

namespace IlgpuElmo.Devices;

/// <summary>
/// ILGPU imports OpenCL as "OpenCL", which .NET looks for as libOpenCL.so: the name only the -dev package
/// (ocl-icd-opencl-dev) links. A machine with just the ICD loader's runtime has libOpenCL.so.1, and ILGPU
/// would see no OpenCL at all. <see cref="Resolver"/> answers, when .NET's own search for OpenCL has failed,
/// with the first candidate that loads; it is a fallback because ILGPU may set its assembly's import resolver
/// for its own use.
/// </summary>
public static class OpenClLibrary
{
    public static NativeLibraryResolver Resolver { get; } = new(IsImport, Candidates);

    /// <summary>Installs the resolver once per process; call before ILGPU first touches OpenCL.</summary>
    public static void Install() => Resolver.InstallAsFallback(typeof(CLAccelerator).Assembly);

    /// <summary>ILGPU's OpenCL import names: "OpenCL" (Linux, macOS) and "opencl" (Windows), with or without a prefix or suffix.</summary>
    public static bool IsImport(string name) =>
        Path.GetFileName(name).Contains("opencl", StringComparison.OrdinalIgnoreCase);

    /// <summary>The OpenCL library names of this operating system, the ICD loader's runtime soname first.</summary>
    public static IReadOnlyList<string> Candidates() =>
        OperatingSystem.IsWindows() ? ["OpenCL.dll"]
        : OperatingSystem.IsMacOS() ? ["/System/Library/Frameworks/OpenCL.framework/OpenCL"]
        : ["libOpenCL.so.1", "libOpenCL.so"];
}
