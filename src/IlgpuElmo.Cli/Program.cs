using System.CommandLine;
using System.CommandLine.Help;
using IlgpuElmo.Cli.Commands;
using IlgpuElmo.Devices;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Cli;

/// <summary>The `elmo` command-line program.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Error);

    /// <summary>
    /// Runs a command line; user errors print one clear message (no stack trace) and return 2: a command
    /// line that does not parse (<see cref="CommandLineErrors"/>) as well as bad input. I/O errors count as
    /// the user's (a full disk, a missing permission): .NET's messages name the path. Help is printed only
    /// when asked for (--help), with exit code 0.
    /// </summary>
    public static int Run(string[] args, TextWriter error)
    {
        try
        {
            var parse = BuildRoot().Parse(args);
            if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
            {
                error.WriteLine($"error: {CommandLineErrors.Describe(parse)}");
                return 2;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    public static bool IsUserError(Exception e) =>
        e is InputException or DeviceSelectionException or DeviceMemoryException or ShapeMismatchException
            or ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException;

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("IlgpuElmo: train and use ELMo bidirectional language models on GPUs (CUDA, OpenCL) or the CPU");
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(SelfCheckCommand.Create());
        root.Subcommands.Add(VocabCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(DumpTokenEmbeddingsCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(ProbeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        CommandLineErrors.ExplainNumbers(root);
        return root;
    }
}
