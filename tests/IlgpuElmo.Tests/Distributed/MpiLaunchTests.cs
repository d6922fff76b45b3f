using System.Collections;
using IlgpuElmo.Distributed;

namespace IlgpuElmo.Tests.Distributed;

public class MpiLaunchTests
{
    [Fact]
    public void WithoutALauncherTheErrorSaysToUseMpiexec()
    {
        var e = Assert.Throws<InputException>(() => MpiLaunch.Check(new Hashtable { ["PATH"] = "/usr/bin" }));
        Assert.Contains("not started by mpiexec", e.Message);
        Assert.Contains("mpiexec.mpich -n N", e.Message);
    }

    [Fact]
    public void OpenMpisLauncherIsNamed()
    {
        var e = Assert.Throws<InputException>(() => MpiLaunch.Check(new Hashtable { ["OMPI_COMM_WORLD_SIZE"] = "2", ["PMIX_RANK"] = "0" }));
        Assert.Contains("Open MPI", e.Message);
    }

    [Fact]
    public void HydrasVariablesPassAndGiveTheLocalRank()
    {
        var environment = new Hashtable { ["PMI_RANK"] = "3", ["PMI_SIZE"] = "4", ["MPI_LOCALRANKID"] = "1" };
        MpiLaunch.Check(environment);
        Assert.Equal(1, MpiLaunch.LocalRank(environment));
        Assert.Equal(0, MpiLaunch.LocalRank(new Hashtable { ["PMI_RANK"] = "0" }));
    }
}
