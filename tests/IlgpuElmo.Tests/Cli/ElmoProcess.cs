using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// The built `elmo` program (elmo.dll, copied beside the tests by the project reference) run as a real
/// child process: for what only a separate process shows (an OS lock held by another process, a signal).
/// </summary>
sealed class ElmoProcess : IDisposable
{
    readonly Process process;
    readonly System.Text.StringBuilder stderr = new(), stdout = new();
    long peakResidentBytes;
    volatile bool disposed;

    public ElmoProcess(string workingDirectory, params string[] args) : this(workingDirectory, new Dictionary<string, string?>(), args) { }

    /// <param name="environment">Variables to set (a null value removes the variable).</param>
    public ElmoProcess(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        // The dotnet CLI names its own host for the processes it starts (dotnet test included).
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        // The signals the tests send reach elmo's handlers even where this process ignores them (a suite run
        // under nohup ignores SIGHUP; a background job in a script, SIGINT): a child inherits an ignore, and .NET
        // keeps a signal ignored at start ignored. coreutils' env resets them and execs elmo (the same process id).
        var start = new ProcessStartInfo("env")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        start.ArgumentList.Add("--default-signal=HUP,INT,TERM");
        start.ArgumentList.Add(host);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "elmo.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        new Thread(WatchMemory) { IsBackground = true }.Start();
    }

    public int Id => process.Id;

    /// <summary>
    /// The most memory the process has held so far (the kernel's VmHWM, read every 20 ms while it runs; its
    /// growth in the last 20 ms before exit can be missed). Zero where /proc is not there.
    /// </summary>
    public long PeakResidentBytes => Interlocked.Read(ref peakResidentBytes);

    void WatchMemory()
    {
        string status = $"/proc/{process.Id}/status";
        while (!disposed)
        {
            try
            {
                foreach (var line in File.ReadLines(status))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        long bytes = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0]) * 1024;
                        if (bytes > Interlocked.Read(ref peakResidentBytes)) Interlocked.Exchange(ref peakResidentBytes, bytes);
                    }
            }
            catch (IOException)
            {
                return; // the process has ended
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>Fails the test, with what the process printed, when it has exited before <paramref name="what"/>.</summary>
    public void AssertRunning(string what)
    {
        if (process.HasExited) Assert.Fail($"elmo exited ({process.ExitCode}) before {what}; stderr: {Stderr}");
    }

    public string Stderr
    {
        get { lock (stderr) return stderr.ToString(); }
    }

    /// <summary>What the process printed on stdout so far (complete once <see cref="WaitForExit"/> returned).</summary>
    public string Stdout
    {
        get { lock (stdout) return stdout.ToString(); }
    }

    /// <summary>Runs to the end (at most two minutes) and returns the exit code.</summary>
    public int WaitForExit()
    {
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"elmo did not exit; stderr: {Stderr}");
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>Waits (at most a minute) until <paramref name="condition"/> holds while the process runs.</summary>
    public void WaitUntil(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            AssertRunning(what);
            Assert.True(watch.Elapsed < TimeSpan.FromMinutes(1), $"timed out waiting for {what}; stderr: {Stderr}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Sends a POSIX signal (15 SIGTERM, 1 SIGHUP) as a scheduler or `timeout` would.</summary>
    public void Signal(int signal) => Assert.Equal(0, kill(process.Id, signal));

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    public void Dispose()
    {
        disposed = true;
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
