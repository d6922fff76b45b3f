using IlgpuElmo.Cli;

namespace IlgpuElmo.Tests.Cli;

/// <summary>`elmo train --distributed` where no MPI launcher started the process: one clear line, exit code 2, nothing written.</summary>
public class DistributedTrainTests
{
    [Fact]
    public void DistributedWithoutMpiexecIsAClearError()
    {
        Assert.Null(Environment.GetEnvironmentVariable("PMI_RANK"));
        using var temp = new TempDirectory();
        string run = Path.Combine(temp.Path, "run");
        var error = new StringWriter();
        Assert.Equal(2, Program.Run(["train", "--distributed", "--steps", "1", "--out", run], error));
        Assert.StartsWith("error: --distributed: this process was not started by mpiexec", error.ToString());
        Assert.Single(error.ToString().Trim().Split('\n'));
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void MpiLibraryWithoutDistributedIsAnError()
    {
        var error = new StringWriter();
        Assert.Equal(2, Program.Run(["train", "--mpi-library", "libmpich.so.12", "--steps", "1"], error));
        Assert.Contains("--mpi-library goes with --distributed", error.ToString());
    }
}
