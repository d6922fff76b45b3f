using Spectre.Console;
using Spectre.Console.Rendering;

namespace IlgpuElmo.Cli.Progress;

/// <summary>A progress column with the task's speed in its own unit ("812 tokens/s"); Spectre's speed column speaks bytes only.</summary>
sealed class RateColumn(string unit) : ProgressColumn
{
    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(task.Speed is { } speed ? ProgressLog.Rate(speed, unit) : "", new Style(Color.Grey));
}
