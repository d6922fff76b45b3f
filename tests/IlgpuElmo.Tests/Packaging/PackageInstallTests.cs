using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace IlgpuElmo.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: packs the already-built projects under a version of its own, installs
/// the `elmo` tool into a temporary tool path, runs `elmo devices` and a 3-step `elmo train` on the built-in
/// Brown corpus from it, and builds and runs the README's library example in a new project referencing the
/// IlgpuElmo package. Restores reuse the machine's NuGet cache; this version's packages are removed from it
/// afterwards.
/// </summary>
public class PackageInstallTests(ITestOutputHelper log)
{
    static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public void ThePackedToolTrainsAndThePackageRunsTheReadmeExample()
    {
        string repository = Repository.Root;
        string configuration = typeof(PackageInstallTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        string version = $"0.0.0-test.{Guid.NewGuid():N}";
        using var temp = new TempDirectory();
        string artifacts = Path.Combine(temp.Path, "artifacts");
        try
        {
            // The test run built these projects already: pack what it built.
            Dotnet(repository, "pack", "IlgpuElmo.sln", "-c", configuration, "--no-build", "-o", artifacts, $"-p:Version={version}");
            using (var library = ZipFile.OpenRead(Path.Combine(artifacts, $"IlgpuElmo.{version}.nupkg")))
            {
                var entries = library.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("README.md", entries);
                Assert.Contains("lib/net10.0/IlgpuElmo.dll", entries);
                Assert.Contains("lib/net10.0/IlgpuElmo.xml", entries);
            }
            foreach (var package in new[] { $"IlgpuElmo.{version}.snupkg", $"IlgpuElmo.Kernels.{version}.nupkg", $"IlgpuElmo.Cli.{version}.nupkg" })
                Assert.True(File.Exists(Path.Combine(artifacts, package)), $"{package} was not packed");

            string tools = Path.Combine(temp.Path, "tools");
            Dotnet(temp.Path, "tool", "install", "IlgpuElmo.Cli", "--tool-path", tools, "--add-source", artifacts, "--version", version);
            string elmo = Path.Combine(tools, OperatingSystem.IsWindows() ? "elmo.exe" : "elmo");
            Assert.Contains("auto picks", Run(temp.Path, elmo, "devices"));

            // A fresh data folder: the Brown corpus must come out of the installed package.
            string dataHome = Path.Combine(temp.Path, "data");
            string small = temp.File("small.txt", "The jury said it did find that .\nThe grand jury commented on a number of other topics .\n");
            string run = Path.Combine(temp.Path, "run");
            Run(temp.Path, elmo, ["train", "--steps", "3", "--dev", small, "--test", small, "--out", run], ("XDG_DATA_HOME", dataHome), ("LOCALAPPDATA", dataHome));
            Assert.True(File.Exists(Path.Combine(run, "checkpoint.bin")), "the installed tool's run left no checkpoint");
            Assert.True(File.Exists(Path.Combine(dataHome, "ilgpu-elmo", "brown-v1", ".complete")), "the Brown corpus was not extracted into the fresh data folder");

            string app = Path.Combine(temp.Path, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="artifacts" value="{artifacts}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "App.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeLibraryExample(repository, run));
            Dotnet(app, "add", "package", "IlgpuElmo", "--version", version);
            string output = Dotnet(app, "run", "-c", "Release");
            // The run trained the CPU's default preset: layer 0 and both directions' LSTM layers, 2P wide.
            var trained = IlgpuElmo.Model.ModelPresets.Get("cpu-default");
            Assert.Contains($"2 sentences, {trained.Lstm.NLayers + 1} layers of width {2 * trained.Lstm.ProjectionDim}", output);
        }
        finally
        {
            foreach (var id in new[] { "ilgpuelmo", "ilgpuelmo.kernels", "ilgpuelmo.cli" })
            {
                string cached = Path.Combine(GlobalPackagesFolder(), id, version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
                string versions = Path.GetDirectoryName(cached)!;
                if (Directory.Exists(versions) && !Directory.EnumerateFileSystemEntries(versions).Any()) Directory.Delete(versions);
            }
        }
    }

    /// <summary>The README's "Library API" example, loading <paramref name="runFolder"/> instead of its sample path.</summary>
    static string ReadmeLibraryExample(string repository, string runFolder)
    {
        string readme = File.ReadAllText(Path.Combine(repository, "README.md"));
        var section = readme[readme.IndexOf("## Library API", StringComparison.Ordinal)..];
        var code = Regex.Match(section, "```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var sample = new Regex("\"runs/[0-9-]+\"");
        Assert.Single(sample.Matches(code));
        return sample.Replace(code, '"' + runFolder.Replace("\\", "\\\\") + '"');
    }

    static string GlobalPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The .NET installation running these tests (shared/Microsoft.NETCore.App/&lt;version&gt;/ is three levels below it).</summary>
    static string DotnetRoot() => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    string Dotnet(string directory, params string[] args) =>
        Run(directory, Path.Combine(DotnetRoot(), OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"), args);

    string Run(string directory, string program, params string[] args) => Run(directory, program, args, []);

    /// <summary>Runs a program to the end and returns its stdout and stderr; a failure or a hang fails the test with both.</summary>
    string Run(string directory, string program, string[] args, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(program, args)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The test host runs under `dotnet test`: its MSBuild settings must not leak into these builds.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_ROOT"] = DotnetRoot();
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(program)} {string.Join(' ', args)} ran past {StepTimeout.TotalMinutes} min");
        }
        string output = stdout.Result + stderr.Result;
        log.WriteLine($"{watch.Elapsed.TotalSeconds,6:F1} s  {Path.GetFileName(program)} {string.Join(' ', args)}");
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(program)} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        return output;
    }
}
