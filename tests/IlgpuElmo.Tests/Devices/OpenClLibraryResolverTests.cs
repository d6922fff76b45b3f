using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Devices;

public class OpenClLibraryResolverTests
{
    [Fact]
    public void OnLinuxTheIcdLoadersRuntimeNameComesFirst()
    {
        var candidates = OpenClLibraryResolver.Candidates();
        if (OperatingSystem.IsLinux()) Assert.Equal(["libOpenCL.so.1", "libOpenCL.so"], candidates);
        else Assert.All(candidates, c => Assert.True(OpenClLibraryResolver.IsOpenCl(c), c));
    }

    [Fact]
    public void AnOpenClImportGetsTheFirstCandidateThatLoads()
    {
        var tried = new List<string>();
        nint OnlyTheRuntime(string candidate)
        {
            tried.Add(candidate);
            return candidate == "libOpenCL.so.1" ? 42 : 0;
        }
        foreach (string name in new[] { "OpenCL", "opencl", "libOpenCL.so" })
        {
            tried.Clear();
            Assert.Equal((42, "libOpenCL.so.1"), OpenClLibraryResolver.Resolve(name, ["libOpenCL.so.1", "libOpenCL.so"], OnlyTheRuntime));
            Assert.Equal(["libOpenCL.so.1"], tried);
        }
        tried.Clear();
        Assert.Equal((7, "b"), OpenClLibraryResolver.Resolve("OpenCL", ["a", "b", "c"], c => { tried.Add(c); return c == "b" ? 7 : 0; }));
        Assert.Equal(["a", "b"], tried);
    }

    [Fact]
    public void OtherImportsAndMissingLibrariesAreLeftToDotNet()
    {
        bool called = false;
        Assert.Equal((0, null), OpenClLibraryResolver.Resolve("cuda", ["libOpenCL.so.1"], _ => { called = true; return 1; }));
        Assert.Equal((0, null), OpenClLibraryResolver.Resolve("cublas", ["libOpenCL.so.1"], _ => { called = true; return 1; }));
        Assert.False(called);
        Assert.Equal((0, null), OpenClLibraryResolver.Resolve("OpenCL", ["libOpenCL.so.1", "libOpenCL.so"], _ => 0));
    }
}
