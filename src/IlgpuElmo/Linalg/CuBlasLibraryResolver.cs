using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Linalg;

/// <summary>
/// ILGPU.Algorithms' CuBlas asks for libcublas.so.12/11/10, but CUDA 13 ships libcublas.so.13 (under
/// /usr/local/cuda/lib64). This resolver maps every cuBLAS import, ILGPU's and our own
/// (<see cref="CuBlasNative"/>), to the newest libcublas that loads.
/// </summary>
public static class CuBlasLibraryResolver
{
    static readonly object Gate = new();
    static bool installed;
    static nint handle;

    /// <summary>Where the loaded library came from, or null if none loaded (yet).</summary>
    public static string? LoadedFrom { get; private set; }

    /// <summary>Installs the resolver on both assemblies, once per process.</summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (installed) return;
            installed = true;
            NativeLibrary.SetDllImportResolver(typeof(CuBlas).Assembly, Resolve);
            NativeLibrary.SetDllImportResolver(typeof(CuBlasLibraryResolver).Assembly, Resolve);
        }
    }

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (!name.Contains("cublas", StringComparison.OrdinalIgnoreCase)) return 0;
        lock (Gate)
        {
            if (handle != 0) return handle;
            foreach (string candidate in Candidates())
            {
                if (NativeLibrary.TryLoad(candidate, out handle))
                {
                    LoadedFrom = candidate;
                    return handle;
                }
            }
            return 0;
        }
    }

    /// <summary>Newest first: CUDA_HOME and the usual CUDA folders, then the loader's search path.</summary>
    static IEnumerable<string> Candidates()
    {
        string[] names = OperatingSystem.IsWindows()
            ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
            : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];
        var folders = new List<string>();
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } root)
                folders.Add(Path.Combine(root, OperatingSystem.IsWindows() ? "bin" : "lib64"));
        folders.Add("/usr/local/cuda/lib64");
        foreach (string name in names)
        {
            foreach (string folder in folders)
                yield return Path.Combine(folder, name);
            yield return name;
        }
    }
}
