using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using ILGPU.Runtime.OpenCL;

namespace IlgpuElmo.Devices;

/// <summary>
/// ILGPU imports OpenCL as "OpenCL", which .NET looks for as libOpenCL.so: the name only the -dev package
/// (ocl-icd-opencl-dev) links. A machine with just the ICD loader's runtime has libOpenCL.so.1, and ILGPU
/// would see no OpenCL at all. This resolver answers, when .NET's own search for OpenCL has failed, with
/// the first candidate that loads. It hooks the load context's ResolvingUnmanagedDll event rather than
/// NativeLibrary.SetDllImportResolver, because ILGPU may set that (one per assembly) for its own use.
/// </summary>
public static class OpenClLibraryResolver
{
    static readonly object Gate = new();
    static bool installed;
    static nint handle;

    /// <summary>Where the OpenCL library came from through this resolver, or null if it was not needed (or none loaded).</summary>
    public static string? LoadedFrom { get; private set; }

    /// <summary>Installs the resolver once per process; call before ILGPU first touches OpenCL.</summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (installed) return;
            installed = true;
            var context = AssemblyLoadContext.GetLoadContext(typeof(CLAccelerator).Assembly) ?? AssemblyLoadContext.Default;
            context.ResolvingUnmanagedDll += (_, name) => Resolve(name);
        }
    }

    static nint Resolve(string name)
    {
        lock (Gate)
        {
            if (handle != 0) return IsOpenCl(name) ? handle : 0;
            var (loaded, from) = Resolve(name, Candidates(), candidate => NativeLibrary.TryLoad(candidate, out nint h) ? h : 0);
            if (loaded != 0) (handle, LoadedFrom) = (loaded, from);
            return loaded;
        }
    }

    /// <summary>For an OpenCL import name, the first candidate <paramref name="tryLoad"/> loads (handle and name); otherwise (0, null).</summary>
    public static (nint Handle, string? From) Resolve(string name, IEnumerable<string> candidates, Func<string, nint> tryLoad)
    {
        if (!IsOpenCl(name)) return (0, null);
        foreach (string candidate in candidates)
        {
            nint loaded = tryLoad(candidate);
            if (loaded != 0) return (loaded, candidate);
        }
        return (0, null);
    }

    /// <summary>ILGPU's OpenCL import names: "OpenCL" (Linux, macOS) and "opencl" (Windows), with or without a prefix or suffix.</summary>
    public static bool IsOpenCl(string name) =>
        Path.GetFileName(name).Contains("opencl", StringComparison.OrdinalIgnoreCase);

    /// <summary>The OpenCL library names of this operating system, the ICD loader's runtime soname first.</summary>
    public static IReadOnlyList<string> Candidates() =>
        OperatingSystem.IsWindows() ? ["OpenCL.dll"]
        : OperatingSystem.IsMacOS() ? ["/System/Library/Frameworks/OpenCL.framework/OpenCL"]
        : ["libOpenCL.so.1", "libOpenCL.so"];
}
