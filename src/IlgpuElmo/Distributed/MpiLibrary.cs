using System.Runtime.InteropServices;

namespace IlgpuElmo.Distributed;

/// <summary>
/// Points MPI.NET at an MPICH-ABI MPI library. MPI.NET 1.4 imports MS-MPI's <c>msmpi</c>; MS-MPI derives
/// from MPICH and shares its handle values (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM are the same integers), so
/// MPICH's <c>libmpich.so.12</c> serves the same calls. So do Intel MPI, Cray MPICH and MVAPICH, which
/// export the MPICH ABI; Open MPI does not (its handles are pointers) and is refused by name.
/// </summary>
public static class MpiLibrary
{
    public const string EnvironmentVariable = "ELMO_MPI_LIBRARY";
    public const string DefaultName = "libmpich.so.12";

    static readonly object Gate = new();
    static IntPtr loaded;
    static string? loadedName;

    /// <summary>The library to load: <paramref name="requested"/>, else $ELMO_MPI_LIBRARY, else libmpich.so.12.</summary>
    public static string Choose(string? requested) =>
        requested ?? (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultName);

    /// <summary>
    /// Loads the library (once per process) and routes MPI.NET's imports to it; a missing library or an
    /// Open MPI one is an <see cref="InputException"/> naming it and what to do.
    /// </summary>
    public static void Load(string? requested)
    {
        string name = Choose(requested);
        lock (Gate)
        {
            if (loadedName is not null)
            {
                if (loadedName != name) throw new InvalidOperationException($"MPI library {loadedName} is already loaded; cannot switch to {name}.");
                return;
            }
            if (!NativeLibrary.TryLoad(name, out var handle))
                throw new InputException(
                    $"The MPI library '{name}' could not be loaded. Install MPICH (Debian/Ubuntu: apt-get install mpich libmpich-dev) " +
                    $"or name an MPICH-ABI library (Intel MPI, Cray MPICH, MVAPICH) with --mpi-library or {EnvironmentVariable}.");
            if (IsOpenMpi(handle))
                throw new InputException(
                    $"The MPI library '{name}' is Open MPI, whose ABI MPI.NET cannot call. Use MPICH (apt-get install mpich libmpich-dev; " +
                    $"launch with mpiexec.mpich) or another MPICH-ABI library, named with --mpi-library or {EnvironmentVariable}.");
            NativeLibrary.SetDllImportResolver(typeof(MPI.Unsafe).Assembly,
                (import, _, _) => import.StartsWith("msmpi", StringComparison.OrdinalIgnoreCase) ? loaded : IntPtr.Zero);
            loaded = handle;
            loadedName = name;
        }
    }

    /// <summary>Open MPI's libmpi exports its predefined objects as data symbols (ompi_mpi_comm_world); MPICH has none.</summary>
    public static bool IsOpenMpi(IntPtr library) => NativeLibrary.TryGetExport(library, "ompi_mpi_comm_world", out _);
}
