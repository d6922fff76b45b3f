namespace IlgpuElmo.Data;

/// <summary>Paths the user gave for files to read: a folder there is named as a folder, not reported as missing.</summary>
public static class InputFiles
{
    /// <summary>Throws when <paramref name="path"/> is a folder, naming it and a file it might hold (<paramref name="exampleName"/>).</summary>
    public static void RefuseFolder(string path, string what, string exampleName)
    {
        if (Directory.Exists(path))
            throw new InputException($"{what} '{path}' is a folder; give the file itself, e.g. {Path.Combine(path, exampleName)}.");
    }
}
