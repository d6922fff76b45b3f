using System.Runtime.InteropServices;

namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// A named pipe given to `elmo` as a corpus file: opening it for reading blocks the program until a writer
/// comes, so a test knows exactly where the program is when <see cref="WaitForReader"/> returns, and decides
/// when the program may go on (<see cref="WriteAndClose"/>).
/// </summary>
sealed class Fifo
{
    const int WriteOnly = 1, NonBlocking = 0x800, NoReader = 6; // O_WRONLY, O_NONBLOCK, ENXIO (Linux)

    int descriptor = -1;

    public Fifo(string path)
    {
        Path = path;
        Assert.True(mkfifo(path, Convert.ToUInt32("600", 8)) == 0, $"mkfifo {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public string Path { get; }

    /// <summary>Waits (at most a minute) until <paramref name="reader"/> opens the pipe, and holds its write end.</summary>
    public void WaitForReader(ElmoProcess reader, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            descriptor = open(Path, WriteOnly | NonBlocking);
            if (descriptor >= 0) return;
            int errno = Marshal.GetLastPInvokeError();
            Assert.True(errno == NoReader, $"opening {Path} failed: errno {errno}");
            reader.AssertRunning(what);
            Assert.True(watch.Elapsed < TimeSpan.FromMinutes(1), $"timed out waiting for {what}; stderr: {reader.Stderr}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Gives the reader <paramref name="text"/> and the end of the file.</summary>
    public void WriteAndClose(string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        Assert.True(bytes.Length < 4096, "more than a pipe takes without waiting");
        Assert.Equal(bytes.Length, (int)write(descriptor, bytes, bytes.Length));
        Assert.Equal(0, close(descriptor));
        descriptor = -1;
    }

    [DllImport("libc", SetLastError = true)]
    static extern int mkfifo(string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    static extern nint write(int fd, byte[] buffer, nint count);

    [DllImport("libc", SetLastError = true)]
    static extern int close(int fd);
}
