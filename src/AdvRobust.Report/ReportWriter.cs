using System.Text;
using AdvRobust.Research.Detection;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Report;

/// <summary>
/// `advrobust report`: reads run directories and writes report.md and its PNG charts into one folder: loss.png
/// (training loss per epoch, runs overlaid), accuracy.png (clean solid, PGD dashed, one colour per run) and, for
/// each run with a detection.json, roc-RUN.png and roc-misclassified-RUN.png.
/// </summary>
public static class ReportWriter
{
    public const string CleanVsAdversarialPng = "roc-clean-vs-adversarial.png",
        MisclassifiedVsCorrectPng = "roc-misclassified-vs-correct.png";

    /// <summary>Loads each directory; runs whose folder names collide get "-2", "-3", ... appended.</summary>
    public static IReadOnlyList<RunData> Load(IReadOnlyList<string> directories)
    {
        if (directories.Count == 0) throw new ArgumentException("report needs at least one run directory");
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var runs = new List<RunData>();
        foreach (string dir in directories)
        {
            var run = RunReader.Load(dir);
            int count = seen[run.Name] = seen.GetValueOrDefault(run.Name) + 1;
            runs.Add(count == 1 ? run : run with { Name = $"{run.Name}-{count}" });
        }
        return runs;
    }

    /// <summary>Writes report.md and the charts into <paramref name="outDir"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<RunData> runs, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        string? Chart(string file, IReadOnlyList<Series> series, string title, string yLabel)
        {
            if (series.All(s => s.X.Length == 0)) return null;
            Charts.Lines(Path.Combine(outDir, file), title, "epoch", yLabel, series);
            written.Add(Path.Combine(outDir, file));
            return file;
        }
        string? loss = Chart("loss.png", runs.Select((r, i) =>
            PerEpoch(r, i, r.Name, e => e.TrainLoss)).ToArray(), "Training loss", "loss");
        string? accuracy = Chart("accuracy.png", runs.SelectMany((r, i) => new[]
        {
            PerEpoch(r, i, $"{r.Name} clean", e => e.CleanAccuracy),
            PerEpoch(r, i, $"{r.Name} PGD", e => e.PgdAccuracy, dashed: true),
        }).ToArray(), "Clean and PGD accuracy", "accuracy");

        var roc = new Dictionary<string, (string, string)>();
        foreach (var r in runs)
        {
            if (r.Detection is not { } d) continue;
            string slug = Slug(r.Name);
            var files = (CleanVsAdversarial: $"roc-{slug}.png",
                MisclassifiedVsCorrect: $"roc-misclassified-{slug}.png");
            written.AddRange(WriteRocCharts(d, outDir, files.CleanVsAdversarial, files.MisclassifiedVsCorrect, r.Name));
            roc[r.Name] = files;
        }
        string report = Path.Combine(outDir, "report.md");
        string text = MarkdownReport.Build(runs, new ReportCharts(loss, accuracy, roc));
        AtomicFile.Write(report, s => s.Write(Encoding.UTF8.GetBytes(text)));
        written.Insert(0, report);
        return written;
    }

    /// <summary>
    /// The two ROC charts of a detection result (one curve per attack; an attack whose framing has an empty class has
    /// no curve). Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WriteRocCharts(DetectionResult detection, string outDir,
        string cleanVsAdversarialFile = CleanVsAdversarialPng,
        string misclassifiedVsCorrectFile = MisclassifiedVsCorrectPng, string? runName = null)
    {
        Directory.CreateDirectory(outDir);
        string suffix = runName is null ? "" : $" ({runName})";
        string first = Path.Combine(outDir, cleanVsAdversarialFile),
            second = Path.Combine(outDir, misclassifiedVsCorrectFile);
        Charts.Roc(first, $"Detection: clean vs adversarial{suffix}", detection.Attacks
            .Where(a => a.CleanVsAdversarial is not null).Select(a => (a.Name, a.CleanVsAdversarial!)).ToArray());
        Charts.Roc(second, $"Detection: misclassified vs correct under attack{suffix}", detection.Attacks
            .Where(a => a.MisclassifiedVsCorrect is not null).Select(a => (a.Name, a.MisclassifiedVsCorrect!))
            .ToArray());
        return [first, second];
    }

    private static Series PerEpoch(RunData run, int colour, string label, Func<EpochMetrics, double?> field,
        bool dashed = false)
    {
        var points = run.Epochs.Where(e => field(e) is { } v && double.IsFinite(v)).ToArray();
        return new Series(label, points.Select(e => (double)e.Epoch).ToArray(),
            points.Select(e => field(e)!.Value).ToArray(), colour, dashed);
    }

    /// <summary>A run name as a file-name part: letters, digits, '.', '-' and '_' kept, anything else '_'.</summary>
    internal static string Slug(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
}
