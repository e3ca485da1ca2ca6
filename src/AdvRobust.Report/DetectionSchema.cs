using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Serialization;
using AdvRobust.Research.Detection;

namespace AdvRobust.Report;

/// <summary>
/// Checks a detection.json against the fields of <see cref="DetectionResult"/> before it is deserialized, so that a
/// missing or wrong-typed field is named with the file and its path ("Attacks[0].Fooled") instead of surfacing later
/// as a null collection or a .NET conversion message. Unknown fields (the provenance header) are ignored; numbers may
/// be "NaN"/"Infinity" strings, as the writer spells non-finite values.
/// </summary>
internal static class DetectionSchema
{
    private enum Kind { String, Integer, Number, Object, Norm, Numbers, Attacks, Curve }

    private static readonly (string Field, Kind Kind)[] Root =
    [
        ("Model", Kind.String), ("Device", Kind.String), ("K", Kind.Integer), ("ReferenceSamples", Kind.Integer),
        ("TestSamples", Kind.Integer), ("CleanCorrect", Kind.Integer), ("CleanAccuracy", Kind.Number),
        ("Attacks", Kind.Attacks), ("TotalSeconds", Kind.Number),
    ];

    private static readonly (string Field, Kind Kind)[] Attack =
    [
        ("Name", Kind.String), ("Norm", Kind.Norm), ("Eps", Kind.Number), ("Settings", Kind.Object),
        ("Samples", Kind.Integer), ("CleanCorrect", Kind.Integer), ("Fooled", Kind.Integer),
        ("Misclassified", Kind.Integer), ("AdversarialAccuracy", Kind.Number), ("CleanVsAdversarial", Kind.Curve),
        ("MisclassifiedVsCorrect", Kind.Curve), ("Seconds", Kind.Number),
    ];

    private static readonly (string Field, Kind Kind)[] Curve =
    [
        ("Fpr", Kind.Numbers), ("Tpr", Kind.Numbers), ("Thresholds", Kind.Numbers), ("Auc", Kind.Number),
        ("Positives", Kind.Integer), ("Negatives", Kind.Integer),
    ];

    /// <summary>Reads and checks <paramref name="path"/>; every fault names the file and the field.</summary>
    public static DetectionResult Read(string path)
    {
        string text = File.ReadAllText(path);
        try
        {
            using var doc = JsonDocument.Parse(text);
            CheckObject(doc.RootElement, Root, path, "");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} line {(e.LineNumber ?? 0) + 1}: invalid JSON: {e.Message}", e);
        }
        return DetectionResult.FromJson(text, path);
    }

    private static void CheckObject(JsonElement obj, (string Field, Kind Kind)[] fields, string path, string at)
    {
        if (obj.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException(
                $"{path}: {(at.Length == 0 ? "a detection result" : $"'{at}'")} must be a JSON object, got " +
                Shown(obj));
        foreach (var (field, kind) in fields)
        {
            string name = at.Length == 0 ? field : $"{at}.{field}";
            if (!obj.TryGetProperty(field, out var value))
            {
                if (kind == Kind.Curve) continue; // an empty class leaves the curve out (null)
                throw new InvalidDataException($"{path}: the required field '{name}' is missing");
            }
            string? fault = Check(value, kind, path, name);
            if (fault is not null)
                throw new InvalidDataException($"{path}: field '{name}' must be {fault}, got {Shown(value)}");
        }
    }

    /// <summary>What the value must be when it is not, else null (nested objects are checked on the way).</summary>
    private static string? Check(JsonElement v, Kind kind, string path, string name)
    {
        switch (kind)
        {
            case Kind.String: return v.ValueKind == JsonValueKind.String ? null : "a string";
            case Kind.Integer: return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= 0
                ? null : "a non-negative integer";
            case Kind.Number: return IsNumber(v) ? null : "a number";
            case Kind.Object: return v.ValueKind == JsonValueKind.Object ? null : "an object";
            case Kind.Norm:
                return v.ValueKind == JsonValueKind.String && Enum.TryParse<PgdNorm>(v.GetString(), true, out _)
                    ? null : "a norm (" + string.Join(" or ", Enum.GetNames<PgdNorm>()) + ")";
            case Kind.Numbers:
                if (v.ValueKind != JsonValueKind.Array) return "an array of numbers";
                int i = 0;
                foreach (var item in v.EnumerateArray())
                {
                    if (!IsNumber(item))
                        throw new InvalidDataException(
                            $"{path}: field '{name}[{i}]' must be a number, got {Shown(item)}");
                    i++;
                }
                return null;
            case Kind.Attacks:
                if (v.ValueKind != JsonValueKind.Array) return "an array of attacks";
                int a = 0;
                foreach (var item in v.EnumerateArray()) CheckObject(item, Attack, path, $"{name}[{a++}]");
                return null;
            case Kind.Curve:
                if (v.ValueKind != JsonValueKind.Null) CheckObject(v, Curve, path, name);
                return null;
            default: throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    private static bool IsNumber(JsonElement v) => v.ValueKind == JsonValueKind.Number
        || (v.ValueKind == JsonValueKind.String && v.GetString() is "NaN" or "Infinity" or "-Infinity");

    private static string Shown(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        JsonValueKind.String => "the string " + TextPreview.Quote(v.GetString(), 40),
        _ => TextPreview.Escape(v.GetRawText(), 40),
    };
}
