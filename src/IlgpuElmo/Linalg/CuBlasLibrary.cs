using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Linalg;

/// <summary>
/// ILGPU.Algorithms' CuBlas asks for libcublas.so.12/11/10, but CUDA 13 ships libcublas.so.13 (under
/// /usr/local/cuda/lib64). <see cref="Resolver"/> maps every cuBLAS import, ILGPU's and our own
/// (<see cref="CuBlasNative"/>), to the newest libcublas that loads.
/// </summary>
public static class CuBlasLibrary
{
    public static NativeLibraryResolver Resolver { get; } =
        new(name => name.Contains("cublas", StringComparison.OrdinalIgnoreCase), Candidates);

    /// <summary>Installs the resolver on both importing assemblies, once per process.</summary>
    public static void Install() => Resolver.InstallFirst(typeof(CuBlas).Assembly, typeof(CuBlasLibrary).Assembly);

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
