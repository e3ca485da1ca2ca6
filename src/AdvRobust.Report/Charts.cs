using AdvRobust.Research.Detection;
using AdvRobust.Core.Serialization;
using ScottPlot;

namespace AdvRobust.Report;

/// <summary>
/// One line of a chart: x and y of equal length; <paramref name="Colour"/> indexes the palette, so one run keeps its
/// colour across its series and charts; dashed tells e.g. PGD from clean accuracy.
/// </summary>
public sealed record Series(string Label, double[] X, double[] Y, int Colour, bool Dashed = false);

/// <summary>
/// PNG charts with ScottPlot 5 (rendered by SkiaSharp off screen: no display, no fontconfig), in the Category10
/// palette. Files are written atomically.
/// </summary>
public static class Charts
{
    public const int Width = 800, Height = 500;

    /// <summary>Debian's fonts-dejavu-core (in the base image). SkiaSharp's NoDependencies build does not ask
    /// fontconfig, so ScottPlot's own guess of a sans font lands on DejaVu Serif; a missing family falls back to
    /// Skia's default typeface.</summary>
    public const string FontFamily = "DejaVu Sans";

    /// <summary>Line chart of <paramref name="series"/> over an integer x axis (epochs), runs overlaid.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series)
    {
        var plot = NewPlot(title, xLabel, yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length)
                throw new ArgumentException($"series '{s.Label}': {s.X.Length} x values but {s.Y.Length} y values");
            if (s.X.Length == 0) continue;
            var line = plot.Add.Scatter(s.X, s.Y, palette.GetColor(s.Colour));
            line.LegendText = s.Label;
            line.LineWidth = 2;
            line.MarkerSize = s.X.Length > 40 ? 0 : 5;
            if (s.Dashed) line.LinePattern = LinePattern.Dashed;
        }
        Save(plot, path, legend: series.Count > 1);
    }

    /// <summary>
    /// Certified accuracy against l2 radius (randomized smoothing), drawn as the step function it is.
    /// <paramref name="curve"/> holds (r_i, acc(r_i)) at every step, radii ascending (CertifiedAccuracy.Curve), where
    /// acc(r) counts the points certified at a radius of at least r; so acc is acc(r_i) on (r_{i−1}, r_i] and drops
    /// right after r_i, and to 0 after the last radius.
    /// </summary>
    public static void CertifiedAccuracy(string path, string title, IReadOnlyList<(double Radius, double Accuracy)> curve)
    {
        if (curve.Count == 0) throw new ArgumentException("a certified-accuracy curve needs at least one point");
        var plot = NewPlot(title, "l2 radius", "certified accuracy");
        var x = new List<double> { curve[0].Radius };
        var y = new List<double> { curve[0].Accuracy };
        for (int i = 1; i < curve.Count; i++)
        {
            x.Add(curve[i - 1].Radius); // the drop right after r_{i-1}
            y.Add(curve[i].Accuracy);
            x.Add(curve[i].Radius);     // flat up to r_i
            y.Add(curve[i].Accuracy);
        }
        x.Add(curve[^1].Radius);
        y.Add(0);
        var line = plot.Add.Scatter(x.ToArray(), y.ToArray(), new ScottPlot.Palettes.Category10().GetColor(0));
        line.LineWidth = 2;
        line.MarkerSize = 0;
        plot.Axes.SetLimitsY(0, 1);
        Save(plot, path, legend: false);
    }

    /// <summary>ROC curves with the chance diagonal, each labelled with its AUC.</summary>
    public static void Roc(string path, string title, IReadOnlyList<(string Label, RocCurve Curve)> curves)
    {
        var plot = NewPlot(title, "false positive rate", "true positive rate");
        var chance = plot.Add.Line(0, 0, 1, 1);
        chance.LineColor = Colors.Gray;
        chance.LinePattern = LinePattern.Dotted;
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Count; i++)
        {
            var (label, curve) = curves[i];
            var line = plot.Add.Scatter(curve.Fpr, curve.Tpr, palette.GetColor(i));
            line.LegendText = $"{label} (AUC {curve.Auc:F3})";
            line.LineWidth = 2;
            line.MarkerSize = curve.Fpr.Length > 40 ? 0 : 4;
        }
        plot.Axes.SetLimits(-0.01, 1.01, -0.01, 1.01);
        Save(plot, path, legend: curves.Count > 0);
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontFamily);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    private static void Save(Plot plot, string path, bool legend)
    {
        if (legend) plot.ShowLegend(Alignment.LowerRight);
        byte[] png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }
}
