namespace IlgpuElmo.Tests;

/// <summary>The checkout the tests were built from, for tests that read its source files.</summary>
public static class RepositoryFiles
{
    /// <summary>The folder holding IlgpuElmo.sln above the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "IlgpuElmo.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No IlgpuElmo.sln above {AppContext.BaseDirectory}.");
    }
}
