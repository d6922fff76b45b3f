using Spectre.Console;

namespace IlgpuElmo.Cli.Progress;

/// <summary>
/// How a long command shows how far it is, always on stderr so stdout's data stays clean for pipes: a
/// Spectre progress bar with items/s and ETA when stderr is a terminal, otherwise a plain line every few
/// seconds and one at the end (<see cref="ProgressLog"/>), so a log stays readable. The work reports
/// through <see cref="IProgress{T}"/> of the count done so far, as the library's long methods do.
/// </summary>
static class ConsoleProgress
{
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    /// <summary>Runs <paramref name="work"/> while showing its progress towards <paramref name="total"/> <paramref name="unit"/>.</summary>
    public static T Run<T>(string description, string unit, long total, Func<IProgress<long>, T> work)
    {
        if (Console.IsErrorRedirected)
        {
            var log = new ProgressLog(description, unit, total, Console.Error, LogInterval);
            T result = work(log);
            log.Finish();
            return result;
        }
        return Terminal().Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RateColumn(unit), new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(context => work(new TaskProgress(context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total)))));
    }

    /// <summary>A Spectre console on stderr, interactive: `elmo embed ... > out.txt` on a terminal still gets the bar.</summary>
    public static IAnsiConsole Terminal() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error), Interactive = InteractionSupport.Yes });

    /// <summary>Moves a Spectre task (its speed and remaining time follow from the values set).</summary>
    sealed class TaskProgress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }
}
