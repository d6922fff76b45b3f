using System.Collections;

namespace IlgpuElmo.Distributed;

/// <summary>
/// What the launcher told this process: MPICH's Hydra (and Intel MPI, MVAPICH, Slurm's PMI) set PMI_RANK,
/// PMI_SIZE and MPI_LOCALRANKID; Open MPI sets OMPI_COMM_WORLD_*. Checked before MPI is initialised, so a
/// `--distributed` run started without mpiexec, or by Open MPI's mpiexec, is a clear error instead of a
/// silent single-rank run or a crash inside MPI.
/// </summary>
public static class MpiLaunch
{
    static readonly string[] LauncherVariables = ["PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "PMIX_RANK"];

    /// <summary>Throws an <see cref="InputException"/> unless an MPICH-ABI launcher started this process.</summary>
    public static void Check(IDictionary environment)
    {
        if (environment.Contains("OMPI_COMM_WORLD_SIZE"))
            throw new InputException(
                "--distributed: this process was started by Open MPI's mpiexec, whose ABI MPI.NET cannot use; " +
                "launch with MPICH's mpiexec.mpich -n N elmo train --distributed ... (or Intel MPI / MVAPICH).");
        if (!LauncherVariables.Any(environment.Contains))
            throw new InputException(
                "--distributed: this process was not started by mpiexec (none of PMI_RANK, PMI_SIZE, MPI_LOCALRANKID is set); " +
                "run mpiexec.mpich -n N elmo train --distributed ..., or drop --distributed to train on one device.");
    }

    /// <summary>This process's rank among the ranks on its node (its device index), from MPI_LOCALRANKID; 0 when unset.</summary>
    public static int LocalRank(IDictionary environment) =>
        environment["MPI_LOCALRANKID"] is string text && int.TryParse(text, out int rank) ? rank : 0;
}
