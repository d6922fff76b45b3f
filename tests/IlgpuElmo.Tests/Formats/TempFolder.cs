using System.Runtime.CompilerServices;

namespace IlgpuElmo.Tests.Formats;

/// <summary>A fresh temporary folder per test, deleted on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ilgpuelmo-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }

    /// <summary>A file under tests/IlgpuElmo.Tests/Formats/Fixtures, found from this source file's location.</summary>
    public static string Fixture(string name) => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(ThisFile())!, "Fixtures", name);

    static string ThisFile([CallerFilePath] string path = "") => path;
}
