namespace IlgpuElmo.Tests;

/// <summary>The checkout these tests were built from: the folder above the test binaries that holds IlgpuElmo.sln.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "IlgpuElmo.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No IlgpuElmo.sln above {AppContext.BaseDirectory}.");
    }
}
