using System.CommandLine;
using IlgpuElmo.Reporting;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo plot RUN... --out curve.png`: the held-out perplexity of one or more runs against training wall
/// time, one line per run, so runs of different lengths show what more compute buys. Prints each run's
/// points as a table.
/// </summary>
static class PlotCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run folders written by `elmo train`", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "The PNG to write (an existing file only with --overwrite)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out if it exists" };
        var command = new Command("plot", "Plot the held-out perplexity of runs against training wall time into one PNG");
        command.Arguments.Add(runs);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        command.SetAction(result =>
        {
            string path = result.GetValue(output)!;
            OutputPaths.CheckFile(path, "--out", "curve.png", result.GetValue(overwrite),
                result.GetValue(runs)!.Select(run => new OutputPaths.Input("run", Path.Combine(run, "metrics.jsonl"))));
            var curves = result.GetValue(runs)!.Select(run => (Name: Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(run))),
                Points: HeldOutCurve.Read(run))).ToList();
            Console.WriteLine("| run | step | training minutes | held-out perplexity |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (name, points) in curves)
                foreach (var p in points)
                    Console.WriteLine($"| {name} | {p.Step} | {p.ElapsedSeconds / 60:F2} | {p.Perplexity:F2} |");
            Charts.Lines(path, "Held-out perplexity against training time", "training wall time (minutes)", "held-out perplexity (mean of both directions)",
                curves.Select(c => (c.Name, (IReadOnlyList<(double X, double Y)>)c.Points.Select(p => (p.ElapsedSeconds / 60, p.Perplexity)).ToList())));
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }
}
