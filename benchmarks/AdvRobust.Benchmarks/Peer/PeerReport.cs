using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AdvRobust.Benchmarks.Peer;

/// <summary>What a BenchmarkDotNet JSON report (--exporters json) gives the peer table: the median time per call of
/// each case, keyed as <see cref="Support.CaseKey"/> keys it, and the host it ran on.</summary>
public sealed record BdnReport(Dictionary<string, double> MedianNs, string Processor, int PhysicalCores,
    int LogicalCores, string Runtime, string BenchmarkDotNet);

/// <summary>One round of `bench --peer`: our medians (case key → ns per call) and the PyTorch figures (peer line → value).
/// </summary>
public sealed class PeerRound
{
    public Dictionary<string, double> OursNs { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, double> Torch { get; } = new(StringComparer.Ordinal);
}

/// <summary>The parsers and the markdown table of `bench --peer`: no BenchmarkDotNet types, so the test project
/// compiles this file and checks it on canned outputs (tests/AdvRobust.Tests/Benchmarks/PeerReportTests.cs).</summary>
public static class PeerReport
{
    private static readonly Regex _figure = new(@":\s*([0-9]+(?:\.[0-9]+)?)\s*(img/s|GFLOP/s|ms)\s*$");

    public static BdnReport ParseBdnJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var medians = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var b in root.GetProperty("Benchmarks").EnumerateArray())
        {
            // "Parameters" is "Shape=1024x1024x1024&Device=cpu"; CaseKey sorts the parameters by name.
            var parameters = (b.GetProperty("Parameters").GetString() ?? "")
                .Split('&', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
            string key = $"{b.GetProperty("Type").GetString()}.{b.GetProperty("Method").GetString()}(" +
                string.Join(", ", parameters) + ")";
            // A case that failed has no statistics (null): it is left out, and its row shows "-".
            if (b.TryGetProperty("Statistics", out var stats) && stats.ValueKind == JsonValueKind.Object)
                medians[key] = stats.GetProperty("Median").GetDouble();
        }
        var host = root.GetProperty("HostEnvironmentInfo");
        return new BdnReport(medians, host.GetProperty("ProcessorName").GetString() ?? "?",
            host.GetProperty("PhysicalCoreCount").GetInt32(), host.GetProperty("LogicalCoreCount").GetInt32(),
            host.GetProperty("RuntimeVersion").GetString() ?? "?",
            host.GetProperty("BenchmarkDotNetVersion").GetString() ?? "?");
    }

    /// <summary>
    /// The figures of a peer's output, keyed by <see cref="PeerRow.TorchLine"/>: the line that starts with it ends in
    /// ": VALUE UNIT" ("PGD-10 attack (params frozen) B=256: 127 img/s"). A unit other than the row's is an error, so
    /// a changed peer cannot be read silently in the wrong unit.
    /// </summary>
    public static Dictionary<string, double> ParseTorch(string output)
    {
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n').Select(l => l.Trim()))
        {
            var row = PeerRows.All.FirstOrDefault(r => r.TorchLine is { } p && line.StartsWith(p, StringComparison.Ordinal));
            if (row is null) continue;
            var m = _figure.Match(line);
            if (!m.Success) continue;
            if (m.Groups[2].Value != row.UnitText)
                throw new FormatException($"the peer reports '{line}' in {m.Groups[2].Value}, the row is in {row.UnitText}");
            figures[row.TorchLine!] = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        return figures;
    }

    /// <summary>"KEY: value" lines (the extra peer's "torch: 1.13.1", "BLAS: ..."), the first of each key.</summary>
    public static string? Info(string output, string key) => output.Split('\n')
        .Select(l => l.Trim()).Where(l => l.StartsWith(key + ": ", StringComparison.Ordinal))
        .Select(l => l[(key.Length + 2)..]).FirstOrDefault();

    public static double? Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return null;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>The markdown table: per-round values, medians over the rounds, the speed ratio ours ÷ PyTorch of
    /// the medians and the goal; then mining ÷ our own distance time. <paramref name="header"/> lines go above it.</summary>
    public static string Table(IReadOnlyList<PeerRound> rounds, IEnumerable<string> header)
    {
        var text = new StringBuilder();
        foreach (var line in header) text.AppendLine(line);
        text.AppendLine();
        text.AppendLine("| workload | unit | PyTorch, per round | ours, per round | PyTorch | ours | ours ÷ PyTorch (speed) | goal | met |");
        text.AppendLine("|---|---|---|---|---:|---:|---:|---:|:-:|");
        foreach (var row in PeerRows.All)
        {
            var ours = rounds.Select(r => r.OursNs.TryGetValue(row.OursCase, out var ns) ? row.FromNanoseconds(ns) : (double?)null).ToList();
            var torch = rounds.Select(r => row.TorchLine is { } k && r.Torch.TryGetValue(k, out var v) ? v : (double?)null).ToList();
            double? o = Median(ours.OfType<double>()), t = Median(torch.OfType<double>());
            double? ratio = o is { } a && t is { } b && a > 0 && b > 0 ? row.SpeedRatio(a, b) : null;
            string goal = row.Goal is { } g ? $"≥{g:0.0}×" : "—";
            string met = row.Goal is { } need && ratio is { } got ? (got >= need ? "yes" : "no") : "";
            text.AppendLine($"| {row.Workload} | {row.UnitText} | {PerRound(row.TorchLine is null ? [] : torch)} | " +
                $"{PerRound(ours)} | {Value(t)} | {Value(o)} | {Ratio(ratio)} | {goal} | {met} |");
        }
        var mining = rounds.Select(r =>
            r.OursNs.TryGetValue(PeerRows.Mining.OursCase, out var m) &&
            r.OursNs.TryGetValue(PeerRows.MiningBaseline.OursCase, out var d) && d > 0 ? m / d : (double?)null).ToList();
        double? miningRatio = Median(mining.OfType<double>());
        string miningMet = miningRatio is { } mr ? (mr <= PeerRows.MiningGoal ? "yes" : "no") : "";
        text.AppendLine($"| batch-hard mining ÷ our angular distances, 1024×1024×512 | time ratio |  | " +
            $"{PerRound(mining)} |  | {Value(miningRatio)} |  | ≤{PeerRows.MiningGoal:0.0}× | {miningMet} |");
        return text.ToString();
    }

    private static string PerRound(IReadOnlyList<double?> values) =>
        values.Count == 0 ? "" : string.Join(" / ", values.Select(Value));

    private static string Value(double? v) => v switch
    {
        null => "-",
        >= 100 => v.Value.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 => v.Value.ToString("N1", CultureInfo.InvariantCulture),
        _ => v.Value.ToString("N2", CultureInfo.InvariantCulture),
    };

    private static string Ratio(double? r) => r is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "-";
}
