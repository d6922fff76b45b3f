using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuElmo.MultiRankTests;

/// <summary>
/// The built `elmo` (elmo.dll beside these tests) as a job: `mpiexec.mpich -n R dotnet elmo.dll ...`, or one
/// plain process for R = 0. A machine without MPICH's launcher fails the test with what to install.
/// </summary>
sealed class MpiJob : IDisposable
{
    public const string Launcher = "mpiexec.mpich";
    readonly Process process;
    readonly StringBuilder output = new();

    public MpiJob(int ranks, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo(ranks > 0 ? FindLauncher() : dotnet)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (ranks > 0)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(ranks.ToString());
            start.ArgumentList.Add(dotnet);
        }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "elmo.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public string Output
    {
        get { lock (output) return output.ToString(); }
    }

    public bool HasExited => process.HasExited;

    /// <summary>Sends a POSIX signal to the launcher (15 SIGTERM, as a job scheduler would), which forwards it to the ranks.</summary>
    public void Signal(int signal) => Assert.Equal(0, kill(process.Id, signal));

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    /// <summary>Runs `elmo args` on <paramref name="ranks"/> ranks to the end and returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(int ranks, params string[] args)
    {
        using var job = new MpiJob(ranks, args);
        int code = job.WaitForExit(TimeSpan.FromMinutes(3));
        return (code, job.Output);
    }

    public int WaitForExit(TimeSpan limit)
    {
        Assert.True(process.WaitForExit(limit), $"the job did not end within {limit}; output: {Output}");
        process.WaitForExit();
        return process.ExitCode;
    }

    static string FindLauncher()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, Launcher))) return Path.Combine(dir, Launcher);
        Assert.Fail($"{Launcher} is not on PATH: these tests need MPICH (Debian/Ubuntu: apt-get install mpich libmpich-dev; .ci/run installs it).");
        return Launcher;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
