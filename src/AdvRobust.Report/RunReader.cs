using System.Globalization;
using System.Text.Json;
using AdvRobust.Research.Detection;

namespace AdvRobust.Report;

/// <summary>
/// Reads a run directory written by the trainer (manifest.json, metrics.jsonl) and by `advrobust detect --out`
/// (detection.json). Each file is optional, but a directory holding none of them is an error. Readers are tolerant
/// of fields they do not know and of missing optional ones; a file that is not valid JSON, or a known field of the
/// wrong type, is an <see cref="InvalidDataException"/> naming the file and line.
/// </summary>
public static class RunReader
{
    public const string ManifestFile = "manifest.json", MetricsFile = "metrics.jsonl", DetectionFile = "detection.json",
        EvaluationFile = "evaluation.json";

    public static RunData Load(string directory, string? name = null)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"run directory '{directory}' does not exist");
        string manifest = Path.Combine(directory, ManifestFile), metrics = Path.Combine(directory, MetricsFile),
            detection = Path.Combine(directory, DetectionFile), evaluation = Path.Combine(directory, EvaluationFile);
        if (!File.Exists(manifest) && !File.Exists(metrics) && !File.Exists(detection) && !File.Exists(evaluation))
            throw new InvalidDataException($"'{directory}' is not a run directory: it has none of {ManifestFile}, " +
                $"{MetricsFile}, {DetectionFile}, {EvaluationFile}");
        return new RunData(
            name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))),
            directory,
            File.Exists(manifest) ? ReadManifest(manifest) : null,
            File.Exists(metrics) ? ReadMetrics(metrics) : [],
            File.Exists(detection) ? DetectionSchema.Read(detection) : null,
            File.Exists(evaluation) ? ReadEvaluation(evaluation) : null);
    }

    public static ManifestSummary ReadManifest(string path)
    {
        using var doc = Parse(File.ReadAllText(path), path, 1);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path} line 1: the manifest must be a JSON object, got {root.ValueKind}");
        JsonElement? config = root.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object
            ? c.Clone()
            : null;
        // The trainer nests the machine under "environment" and names the commit "gitCommit"; flat names also work.
        var environment = root.TryGetProperty("environment", out var env) && env.ValueKind == JsonValueKind.Object
            ? env
            : root;
        return new ManifestSummary(config, Scalar(root, "seed"), Scalar(root, "gitCommit") ?? Scalar(root, "commit"),
            Scalar(environment, "device") ?? Scalar(root, "device"),
            Scalar(environment, "backend") ?? Scalar(root, "backend"));
    }

    /// <summary>The summary of an evaluation.json (EvaluationResult's PascalCase fields).</summary>
    public static FinalEvaluation ReadEvaluation(string path)
    {
        using var doc = Parse(File.ReadAllText(path), path, 1);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: an evaluation must be a JSON object, got {root.ValueKind}");
        double Required(JsonElement obj, string field, string where) => Number(obj, field, where)
            ?? throw new InvalidDataException($"{where}: the required field '{field}' is missing");
        var attacks = new List<EvaluatedAttack>();
        if (root.TryGetProperty("Attacks", out var list) && list.ValueKind == JsonValueKind.Array)
            foreach (var a in list.EnumerateArray())
                attacks.Add(new EvaluatedAttack(Scalar(a, "Name") ?? "?", Scalar(a, "Norm") ?? "?",
                    Required(a, "Eps", path + ": Attacks"), Required(a, "Accuracy", path + ": Attacks")));
        return new FinalEvaluation((int)Required(root, "Samples", path), Required(root, "CleanAccuracy", path),
            Required(root, "RobustAccuracy", path), attacks);
    }

    /// <summary>One <see cref="EpochMetrics"/> per non-blank line, in file order. A torn last line (no newline after
    /// it, the start of a JSON object but not a whole one: a run killed while appending it) is skipped, as the
    /// trainer's resume drops it.</summary>
    public static IReadOnlyList<EpochMetrics> ReadMetrics(string path)
    {
        var epochs = new List<EpochMetrics>();
        string[] lines = File.ReadAllText(path).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try
            {
                doc = Parse(line, path, i + 1);
            }
            catch (InvalidDataException) when (i == lines.Length - 1 && line.TrimStart().StartsWith('{'))
            {
                break;
            }
            using (doc) epochs.Add(ParseEpoch(doc.RootElement, $"{path} line {i + 1}"));
        }
        return epochs;
    }

    internal static EpochMetrics ParseEpoch(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: each line must be a JSON object, got {e.ValueKind}");
        double epoch = Number(e, "epoch", where)
            ?? throw new InvalidDataException($"{where}: the required field 'epoch' is missing");
        if (epoch != Math.Floor(epoch) || epoch < 0 || epoch > int.MaxValue)
            throw new InvalidDataException($"{where}: 'epoch' must be a non-negative integer, got {epoch}");
        var components = new Dictionary<string, double>();
        // The trainer writes "trainComponents"; "components" is the older spelling.
        if ((e.TryGetProperty("trainComponents", out var comp) || e.TryGetProperty("components", out comp)) &&
            comp.ValueKind == JsonValueKind.Object)
            foreach (var p in comp.EnumerateObject())
                if (Number(comp, p.Name, $"{where}: components") is double value) components[p.Name] = value;
        double? step = Number(e, "step", where);
        return new EpochMetrics((int)epoch, step is null ? null : (long)step.Value, Number(e, "lr", where),
            Number(e, "trainLoss", where), components, Number(e, "trainAccuracy", where),
            Number(e, "cleanAccuracy", where), Number(e, "pgdAccuracy", where), Number(e, "epochSeconds", where),
            Number(e, "imagesPerSecond", where));
    }

    /// <summary>
    /// A numeric field: null when missing or JSON null; "NaN", "Infinity" and "-Infinity" strings are accepted (a
    /// diverged loss); anything else of the wrong type is an error naming the field.
    /// </summary>
    private static double? Number(JsonElement obj, string field, string where)
    {
        if (!obj.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        if (v.ValueKind == JsonValueKind.String && v.GetString() is "NaN" or "Infinity" or "-Infinity")
            return double.Parse(v.GetString()!, CultureInfo.InvariantCulture);
        throw new InvalidDataException(
            $"{where}: field '{field}' must be a number, got {v.ValueKind} {v.GetRawText()}");
    }

    private static string? Scalar(JsonElement obj, string field) =>
        !obj.TryGetProperty(field, out var v) ? null : v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            _ => v.GetRawText(),
        };

    /// <summary>Parses JSON; an error names the file and line (<paramref name="firstLine"/> + the parser's).</summary>
    private static JsonDocument Parse(string text, string path, int firstLine)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"{path} line {firstLine + (e.LineNumber ?? 0)}: invalid JSON: {e.Message}", e);
        }
    }
}
