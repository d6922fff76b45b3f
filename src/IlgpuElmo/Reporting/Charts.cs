using IlgpuElmo.Data;
using ScottPlot;

namespace IlgpuElmo.Reporting;

/// <summary>PNG charts the commands write (atomically): the training loss curve and the probe's bar chart.</summary>
public static class Charts
{
    /// <summary>One line per named series of (step, value) points.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel,
        IEnumerable<(string Name, IReadOnlyList<(double X, double Y)> Points)> series, bool logY = false)
    {
        var plot = new Plot();
        foreach (var (name, points) in series)
        {
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => logY ? Math.Log10(p.Y) : p.Y).ToArray());
            line.LegendText = name;
            line.MarkerSize = points.Count > 60 ? 0 : 4;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(logY ? $"log10 {yLabel}" : yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path, 900, 520);
    }

    /// <summary>Vertical bars with their values printed above them.</summary>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<(string Label, double Value)> bars)
    {
        var plot = new Plot();
        var items = bars.Select((b, i) => new Bar { Position = i, Value = b.Value, Label = b.Value.ToString("0.0000") }).ToArray();
        var series = plot.Add.Bars(items);
        series.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Label).ToArray());
        plot.Axes.Margins(bottom: 0);
        double min = bars.Min(b => b.Value), max = bars.Max(b => b.Value);
        plot.Axes.SetLimitsY(Math.Max(0, min - (max - min) * 0.5 - 0.02), Math.Min(1.05 * max + 0.01, max + (max - min) * 0.3 + 0.02));
        plot.Title(title);
        plot.YLabel(yLabel);
        Save(plot, path, 900, 520);
    }

    static void Save(Plot plot, string path, int width, int height)
    {
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(png));
    }
}
