using System.Globalization;
using System.Text;
using System.Text.Json;
using AdvRobust.Research.Detection;

namespace AdvRobust.Report;

/// <summary>The charts a report links to, as file names relative to report.md; null where there was nothing to
/// plot.</summary>
public sealed record ReportCharts(
    string? Loss,
    string? Accuracy,
    IReadOnlyDictionary<string, (string CleanVsAdversarial, string MisclassifiedVsCorrect)> Roc);

/// <summary>
/// report.md: an overview table (one row per run), then one section per run with its config essentials, accuracies,
/// time, throughput, device and commit, and its detection AUCs; "—" marks what a run did not record.
/// </summary>
public static class MarkdownReport
{
    /// <summary>Config keys worth a glance, in display order, matched case- and separator-insensitively
    /// (batch_size, batchSize and batch-size are one key), at the top level or one object deep.</summary>
    private static readonly string[] EssentialKeys =
    [
        "arch", "architecture", "model", "data", "dataset", "recipe", "method", "objective", "loss", "epochs",
        "batchsize", "lr", "learningrate", "optimizer", "schedule", "eps", "epsilon", "steps", "alpha",
    ];

    public static string Build(IReadOnlyList<RunData> runs, ReportCharts charts)
    {
        var md = new StringBuilder();
        md.AppendLine("# Run report").AppendLine();
        md.AppendLine("| run | epochs | final clean | final PGD | best clean | best PGD (epoch) | time | img/s | " +
            "device | commit |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
        foreach (var r in runs)
        {
            var best = r.BestPgd;
            md.AppendLine(Row(r.Name, r.Epochs.Count.ToString(CultureInfo.InvariantCulture),
                Percent(r.Final?.CleanAccuracy), Percent(r.Final?.PgdAccuracy), Percent(r.BestClean),
                best is null ? "—" : $"{Percent(best.PgdAccuracy)} ({best.Epoch})", Duration(r.Seconds),
                Fixed(r.ImagesPerSecond, "F0"), r.Manifest?.Device ?? r.Detection?.Device ?? "—",
                Commit(r.Manifest)));
        }
        md.AppendLine();
        if (charts.Loss is not null) md.AppendLine($"![training loss per epoch]({charts.Loss})").AppendLine();
        if (charts.Accuracy is not null)
            md.AppendLine($"![clean (solid) and PGD (dashed) accuracy per epoch]({charts.Accuracy})").AppendLine();
        foreach (var r in runs) RunSection(md, r, charts);
        return md.ToString();
    }

    private static void RunSection(StringBuilder md, RunData r, ReportCharts charts)
    {
        md.AppendLine($"## {r.Name}").AppendLine();
        md.AppendLine("| | |").AppendLine("|---|---|");
        md.AppendLine(Row("directory", $"`{r.Directory}`"));
        foreach (var (key, value) in Essentials(r.Manifest?.Config)) md.AppendLine(Row(key, value));
        md.AppendLine(Row("seed", r.Manifest?.Seed ?? "—"));
        md.AppendLine(Row("backend / device", $"{r.Manifest?.Backend ?? "—"} / {r.Manifest?.Device ?? "—"}"));
        md.AppendLine(Row("commit", r.Manifest?.Commit ?? "—"));
        md.AppendLine(Row("final clean / PGD accuracy",
            $"{Percent(r.Final?.CleanAccuracy)} / {Percent(r.Final?.PgdAccuracy)}"));
        md.AppendLine(Row("best PGD accuracy",
            r.BestPgd is { } b ? $"{Percent(b.PgdAccuracy)} at epoch {b.Epoch}" : "—"));
        md.AppendLine(Row("training time", Duration(r.Seconds)));
        md.AppendLine(Row("throughput", r.ImagesPerSecond is { } ips ? $"{ips:F0} img/s" : "—")).AppendLine();
        if (r.Evaluation is { } ev)
        {
            md.AppendLine($"Final robust evaluation of the best checkpoint on {ev.Samples} test images (attacks run " +
                "in turn, each on the points still robust): clean " + Percent(ev.CleanAccuracy) + ", worst case " +
                Percent(ev.RobustAccuracy) + ".").AppendLine();
            md.AppendLine("| after attack | norm | eps | accuracy |").AppendLine("|---|---|---:|---:|");
            foreach (var a in ev.Attacks)
                md.AppendLine(Row(a.Name, a.Norm, a.Eps.ToString("G4", CultureInfo.InvariantCulture),
                    Percent(a.Accuracy)));
            md.AppendLine();
        }
        if (r.Detection is not { } d) return;
        md.AppendLine($"Detection: k-NN label disagreement (k = {d.K}, angular distance 1 − |cos|), " +
            $"{d.ReferenceSamples} reference and {d.TestSamples} test images, " +
            $"clean accuracy {Percent(d.CleanAccuracy)}.");
        md.AppendLine("AUC clean vs adversarial: clean correctly classified inputs against the adversarial examples " +
            "that fool the model; AUC misclassified vs correct (papers.md §1.6): all attacked inputs, positives " +
            "misclassified.").AppendLine();
        md.AppendLine("| attack | norm | eps | accuracy under attack | AUC clean vs adv | TPR@5%FPR | " +
            "AUC misclassified vs correct | TPR@5%FPR |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var a in d.Attacks)
            md.AppendLine(Row(a.Name, a.Norm.ToString(), a.Eps.ToString("G4", CultureInfo.InvariantCulture),
                Percent(a.AdversarialAccuracy), Fixed(a.CleanVsAdversarial?.Auc, "F4"),
                Percent(a.CleanVsAdversarial?.TprAt5PercentFpr), Fixed(a.MisclassifiedVsCorrect?.Auc, "F4"),
                Percent(a.MisclassifiedVsCorrect?.TprAt5PercentFpr)));
        md.AppendLine();
        if (charts.Roc.TryGetValue(r.Name, out var roc))
            md.AppendLine($"![ROC clean vs adversarial]({roc.CleanVsAdversarial}) " +
                $"![ROC misclassified vs correct]({roc.MisclassifiedVsCorrect})").AppendLine();
    }

    /// <summary>The <see cref="EssentialKeys"/> present in a run's config, as (dotted key, JSON value text).</summary>
    public static IReadOnlyList<(string Key, string Value)> Essentials(JsonElement? config)
    {
        var found = new List<(string Rank, string Key, string Value)>();
        if (config is not { ValueKind: JsonValueKind.Object } c) return [];
        void Scan(JsonElement obj, string prefix, bool recurse)
        {
            foreach (var p in obj.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Object)
                {
                    if (recurse) Scan(p.Value, p.Name + ".", false);
                    continue;
                }
                int rank = Array.IndexOf(EssentialKeys, Normalize(p.Name));
                if (rank < 0 || p.Value.ValueKind == JsonValueKind.Array) continue;
                string value = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                found.Add((rank.ToString("D2", CultureInfo.InvariantCulture), prefix + p.Name, value));
            }
        }
        Scan(c, "", true);
        return found.OrderBy(f => f.Rank, StringComparer.Ordinal).Select(f => (f.Key, f.Value)).ToArray();
    }

    private static string Normalize(string key) => key.Replace("_", "").Replace("-", "").ToLowerInvariant();

    private static string Row(params string[] cells) =>
        "| " + string.Join(" | ", cells.Select(c => c.Replace("|", "\\|").Replace("\n", " "))) + " |";

    private static string Percent(double? fraction) =>
        fraction is { } f && double.IsFinite(f) ? (100 * f).ToString("F2", CultureInfo.InvariantCulture) + "%" : "—";

    private static string Fixed(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "—";

    private static string Duration(double? seconds) => seconds is not { } s ? "—"
        : s < 120 ? s.ToString("F1", CultureInfo.InvariantCulture) + " s"
        : TimeSpan.FromSeconds(Math.Round(s)).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture);

    private static string Commit(ManifestSummary? m) => m?.Commit is { Length: > 10 } c ? c[..10] : m?.Commit ?? "—";
}
