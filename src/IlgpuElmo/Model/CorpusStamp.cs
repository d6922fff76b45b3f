using System.Security.Cryptography;

namespace IlgpuElmo.Model;

/// <summary>
/// A corpus file as a run recorded it when it started (size, last write time, SHA-256), so that a resume
/// notices a file that changed or went instead of training on other text than the run's. A file whose
/// size and time are unchanged is taken as unchanged; one whose time changed is hashed again (a copy with
/// the same content passes).
/// </summary>
public sealed record CorpusStamp(string Path, long Bytes, DateTime LastWriteUtc, string Sha256)
{
    public static CorpusStamp Take(string path)
    {
        var info = new FileInfo(path);
        return new CorpusStamp(path, info.Length, info.LastWriteTimeUtc, info.Length == 0 ? "" : Hash(path));
    }

    /// <summary>Null when the file is as recorded; else what happened to it ("no longer exists", "has changed (...)").</summary>
    public string? Difference()
    {
        var info = new FileInfo(Path);
        if (!info.Exists) return "no longer exists";
        if (info.Length != Bytes) return $"has changed since the run started ({Bytes} bytes then, {info.Length} now)";
        if (Bytes == 0 || info.LastWriteTimeUtc == LastWriteUtc || Hash(Path) == Sha256) return null;
        return "has changed since the run started (the same size, other content)";
    }

    static string Hash(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
