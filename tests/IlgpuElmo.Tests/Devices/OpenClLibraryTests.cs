using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Devices;

/// <summary>The OpenCL library's names, and <see cref="NativeLibraryResolver"/>'s choice among candidates for them.</summary>
public class OpenClLibraryTests
{
    static NativeLibraryResolver Resolver(params string[] candidates) => new(OpenClLibrary.IsImport, () => candidates);

    [Fact]
    public void OnLinuxTheIcdLoadersRuntimeNameComesFirst()
    {
        var candidates = OpenClLibrary.Candidates();
        if (OperatingSystem.IsLinux()) Assert.Equal(["libOpenCL.so.1", "libOpenCL.so"], candidates);
        else Assert.All(candidates, c => Assert.True(OpenClLibrary.IsImport(c), c));
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
            Assert.Equal((42, "libOpenCL.so.1"), Resolver("libOpenCL.so.1", "libOpenCL.so").Find(name, OnlyTheRuntime));
            Assert.Equal(["libOpenCL.so.1"], tried);
        }
        tried.Clear();
        Assert.Equal((7, "b"), Resolver("a", "b", "c").Find("OpenCL", c => { tried.Add(c); return c == "b" ? 7 : 0; }));
        Assert.Equal(["a", "b"], tried);
    }

    [Fact]
    public void OtherImportsAndMissingLibrariesAreLeftToDotNet()
    {
        bool called = false;
        Assert.Equal((0, null), Resolver("libOpenCL.so.1").Find("cuda", _ => { called = true; return 1; }));
        Assert.Equal((0, null), Resolver("libOpenCL.so.1").Find("cublas", _ => { called = true; return 1; }));
        Assert.False(called);
        Assert.Equal((0, null), Resolver("libOpenCL.so.1", "libOpenCL.so").Find("OpenCL", _ => 0));
        Assert.Equal(0, Resolver("libOpenCL.so.1").Resolve("cuda"));
    }
}
