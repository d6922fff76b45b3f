using IlgpuElmo.Probing;
using Spectre.Console;

namespace IlgpuElmo.Cli.Progress;

/// <summary>
/// The probe's progress, which comes in named stages (embedding the splits, training each classifier),
/// each with its own unit and total: on a terminal one Spectre bar per stage, as <see cref="ConsoleProgress"/>
/// shows single-stage commands; when stderr is redirected a <see cref="ProgressLog"/> per stage (a line
/// every few seconds and a closing line), so a log stays readable.
/// </summary>
static class ProbeProgressDisplay
{
    public static T Run<T>(Func<IProgress<ProbeProgress>, T> work)
    {
        if (Console.IsErrorRedirected)
        {
            var logs = new StageLogs(Console.Error);
            T result = work(logs);
            logs.Finish();
            return result;
        }
        return ConsoleProgress.Terminal().Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(context => work(new StageTasks(context)));
    }

    /// <summary>A Spectre task per stage, named with its unit; a stage's first report creates it.</summary>
    sealed class StageTasks(ProgressContext context) : IProgress<ProbeProgress>
    {
        readonly Dictionary<string, ProgressTask> tasks = new();

        public void Report(ProbeProgress p)
        {
            if (!tasks.TryGetValue(p.Stage, out var task))
                tasks[p.Stage] = task = context.AddTask(Markup.Escape($"{p.Stage} ({p.Total:N0} {p.Unit})"), maxValue: Math.Max(1, p.Total));
            task.Value = p.Done;
        }
    }

    /// <summary>A <see cref="ProgressLog"/> per stage; a new stage closes the one before.</summary>
    sealed class StageLogs(TextWriter log) : IProgress<ProbeProgress>
    {
        string? stage;
        ProgressLog? current;

        public void Report(ProbeProgress p)
        {
            if (p.Stage != stage)
            {
                current?.Finish();
                stage = p.Stage;
                current = new ProgressLog($"probe: {p.Stage}", p.Unit, p.Total, log, ConsoleProgress.LogInterval);
            }
            current!.Report(p.Done);
        }

        public void Finish() => current?.Finish();
    }
}
