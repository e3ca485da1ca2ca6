using System.Globalization;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Core.Checkpoints;

/// <summary>
/// What a checkpoint must hold beyond the right names and shapes: finite weights (one NaN makes every prediction
/// one class, silently) and normalization metadata that parses to finite numbers with a positive std. Each check
/// throws <see cref="InvalidDataException"/> naming the file, the tensor or key, and the first bad element.
/// </summary>
public static class CheckpointValues
{
    public const string MeanKey = "normalize.mean", StdKey = "normalize.std";

    /// <summary>The F32 values of <paramref name="entry"/>, or an error naming its first NaN or infinity.</summary>
    public static float[] Finite(string path, SafeTensorEntry entry)
    {
        float[] values = entry.ToFloats();
        int first = Array.FindIndex(values, v => !float.IsFinite(v));
        if (first < 0) return values;
        int bad = values.Count(v => !float.IsFinite(v));
        throw new InvalidDataException(
            $"{path}: tensor '{entry.Name}' holds {bad} non-finite value{(bad == 1 ? "" : "s")} of {values.Length}; " +
            $"the first is {Describe(values[first])} at index {Index(first, entry.Shape)}. The checkpoint is " +
            "corrupt or comes from a diverged run; use an earlier one");
    }

    /// <summary>The "normalize.mean"/"normalize.std" pair of <paramref name="metadata"/>, checked; null if absent.</summary>
    public static (float[] Mean, float[] Std)? Normalization(string path, IReadOnlyDictionary<string, string> metadata)
    {
        bool hasMean = metadata.TryGetValue(MeanKey, out var mean), hasStd = metadata.TryGetValue(StdKey, out var std);
        if (!hasMean && !hasStd) return null;
        if (hasMean != hasStd)
            throw new InvalidDataException(
                $"{path}: metadata has '{(hasMean ? MeanKey : StdKey)}' but no '{(hasMean ? StdKey : MeanKey)}'");
        float[] m = Parse(path, MeanKey, mean!, positive: false), s = Parse(path, StdKey, std!, positive: true);
        if (m.Length != s.Length)
            throw new InvalidDataException(
                $"{path}: metadata '{MeanKey}' has {m.Length} values but '{StdKey}' has {s.Length}");
        return (m, s);
    }

    private static float[] Parse(string path, string key, string csv, bool positive)
    {
        var parts = csv.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string where = $"{path}: metadata '{key}' = '{Shorten(csv)}', value {i + 1}";
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new InvalidDataException($"{where} ('{Shorten(parts[i])}') is not a number");
            if (!float.IsFinite(values[i]))
                throw new InvalidDataException($"{where} is {Describe(values[i])}; it must be finite");
            if (positive && !(values[i] > 0))
                throw new InvalidDataException($"{where} is {parts[i]}; a std must be > 0");
        }
        return values;
    }

    private static string Describe(float v) => float.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";

    /// <summary>Flat index 7 of a [4, 5] tensor: "7 ([1, 2])".</summary>
    private static string Index(int flat, int[] shape)
    {
        if (shape.Length < 2) return flat.ToString(CultureInfo.InvariantCulture);
        var index = new int[shape.Length];
        for (int d = shape.Length - 1, rest = flat; d >= 0; d--)
        {
            index[d] = rest % shape[d];
            rest /= shape[d];
        }
        return $"{flat} ([{string.Join(", ", index)}])";
    }

    private static string Shorten(string text)
    {
        var printable = new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return printable.Length <= 60 ? printable : printable[..57] + "...";
    }
}
