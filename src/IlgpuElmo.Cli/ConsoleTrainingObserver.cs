using IlgpuElmo.Training;
using Spectre.Console;

namespace IlgpuElmo.Cli;

/// <summary>
/// Shows training live: a progress bar whose description carries the step's loss (labelled by the head
/// in use: a sampled softmax loss is not a perplexity), perplexity where exact, tokens/s and ETA. When
/// the output is not a terminal it prints a line every few seconds instead.
/// </summary>
sealed class ConsoleTrainingObserver : ITrainingObserver
{
    readonly ProgressTask? task;
    readonly TextWriter log;
    DateTime lastLine = DateTime.MinValue;

    public ConsoleTrainingObserver(ProgressTask? task, TextWriter log)
    {
        this.task = task;
        this.log = log;
    }

    public static string Describe(StepReport r, string lossName, bool exact)
    {
        string loss = $"{lossName} {r.MeanLoss:F3}";
        string ppl = exact ? $" | ppl {Math.Exp(r.MeanLoss):F1}" : "";
        return $"step {r.Step}/{r.TotalSteps} ep {r.Epoch} | {loss}{ppl} | {r.TokensPerSecond:F0} tok/s | ETA {r.Remaining:hh\\:mm\\:ss}";
    }

    public void OnStep(StepReport report, string lossName, bool lossIsExact)
    {
        string text = Describe(report, lossName, lossIsExact);
        if (task is not null)
        {
            task.Description = Markup.Escape(text);
            task.MaxValue = report.TotalSteps;
            task.Value = report.Step;
        }
        else if (DateTime.UtcNow - lastLine > TimeSpan.FromSeconds(5) || report.Step == report.TotalSteps)
        {
            lastLine = DateTime.UtcNow;
            log.WriteLine(text);
        }
    }

    public void OnEvaluation(EvaluationReport r) => Write(
        $"held-out perplexity at step {r.Step}: forward {r.ForwardPerplexity:F2}, backward {r.BackwardPerplexity:F2}, mean {r.MeanPerplexity:F2} ({r.Tokens} tokens, {r.TokensPerSecond:F0} tok/s)");

    public void OnCheckpoint(long step, string path)
    {
        if (task is null) log.WriteLine($"checkpoint: step {step} -> {path}");
    }

    public void OnMessage(string message) => Write(message);

    void Write(string line)
    {
        if (task is not null) AnsiConsole.MarkupLine(Markup.Escape(line));
        else log.WriteLine(line);
    }
}
