using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace IlgpuElmo;

/// <summary>
/// Finds a native library that .NET's own search misses because an import names another file than the
/// machine has (ILGPU's "OpenCL" where only libOpenCL.so.1 is installed, ILGPU.Algorithms' libcublas.so.12
/// where CUDA 13 ships libcublas.so.13): for an import it recognises, the first of its candidates that
/// loads, loaded once and kept. One instance per library (<c>OpenClLibrary</c>, <c>CuBlasLibrary</c>),
/// installed once per process before the library is first used.
/// </summary>
/// <param name="isImport">True for the import names this resolver answers (with or without prefix or suffix).</param>
/// <param name="candidates">The file names or paths to try, in order.</param>
public sealed class NativeLibraryResolver(Func<string, bool> isImport, Func<IEnumerable<string>> candidates)
{
    readonly object gate = new();
    bool installed;
    nint handle;

    /// <summary>Where the library came from through this resolver, or null if it was not needed (or none loaded).</summary>
    public string? LoadedFrom { get; private set; }

    /// <summary>
    /// Answers after .NET's own search failed, from the load context of <paramref name="importing"/>
    /// (its ResolvingUnmanagedDll event): a library that loads by its import name is never replaced, and
    /// NativeLibrary.SetDllImportResolver, one per assembly, stays free for the assembly's owner.
    /// </summary>
    public void InstallAsFallback(Assembly importing)
    {
        lock (gate)
        {
            if (installed) return;
            installed = true;
            var context = AssemblyLoadContext.GetLoadContext(importing) ?? AssemblyLoadContext.Default;
            context.ResolvingUnmanagedDll += (_, name) => Resolve(name);
        }
    }

    /// <summary>Answers first, as the import resolver of each of <paramref name="importing"/>: for imports whose own names find no or the wrong library.</summary>
    public void InstallFirst(params Assembly[] importing)
    {
        lock (gate)
        {
            if (installed) return;
            installed = true;
            foreach (var assembly in importing) NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => Resolve(name));
        }
    }

    /// <summary>For an import this resolver recognises, the library loaded before or the first candidate that loads; otherwise 0 (.NET's own answer stands).</summary>
    public nint Resolve(string name)
    {
        if (!isImport(name)) return 0;
        lock (gate)
        {
            if (handle != 0) return handle;
            var (loaded, from) = Find(name, candidate => NativeLibrary.TryLoad(candidate, out nint h) ? h : 0);
            if (loaded != 0) (handle, LoadedFrom) = (loaded, from);
            return loaded;
        }
    }

    /// <summary>For an import this resolver recognises, the first candidate <paramref name="tryLoad"/> loads (handle and name); otherwise (0, null).</summary>
    public (nint Handle, string? From) Find(string name, Func<string, nint> tryLoad)
    {
        if (!isImport(name)) return (0, null);
        foreach (string candidate in candidates())
        {
            nint loaded = tryLoad(candidate);
            if (loaded != 0) return (loaded, candidate);
        }
        return (0, null);
    }
}
