using System.Runtime.InteropServices;
using IlgpuElmo.Distributed;

namespace IlgpuElmo.Tests.Distributed;

public class MpiLibraryTests
{
    [Fact]
    public void AMissingLibraryIsNamedWithThePackagesAndTheOption()
    {
        var e = Assert.Throws<InputException>(() => MpiLibrary.Load("libno-such-mpi.so.99"));
        Assert.Contains("libno-such-mpi.so.99", e.Message);
        Assert.Contains("apt-get install mpich libmpich-dev", e.Message);
        Assert.Contains(MpiLibrary.EnvironmentVariable, e.Message);
    }

    [Fact]
    public void TheOptionWinsOverTheDefault()
    {
        Assert.Equal("libmine.so", MpiLibrary.Choose("libmine.so"));
        if (Environment.GetEnvironmentVariable(MpiLibrary.EnvironmentVariable) is null)
            Assert.Equal(MpiLibrary.DefaultName, MpiLibrary.Choose(null));
    }

    [Fact]
    public void ALibraryWithoutOpenMpisSymbolsIsNotOpenMpi()
    {
        var libc = NativeLibrary.Load("libc.so.6");
        Assert.False(MpiLibrary.IsOpenMpi(libc));
    }
}
