using System.Reflection;

namespace AdvRobust.Research.Training.Presets;

/// <summary>
/// The shipped training presets (configs/*.json, documented in configs/README.md), embedded in this assembly so that
/// `advrobust train` and `advrobust demo` work from any folder, without a checkout.
/// </summary>
public static class Presets
{
    private const string Prefix = "configs/";

    /// <summary>The names of the embedded presets, e.g. "fashion-mnist-pgd-at.json", in ordinal order.</summary>
    public static IReadOnlyList<string> Names =>
        Assembly.GetExecutingAssembly().GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>A preset with <c>--set</c>-style overrides applied (the same parser and schema as a config file).</summary>
    public static TrainConfig Load(string name, IReadOnlyList<string> overrides)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(Prefix + name)
            ?? throw new ArgumentException($"no preset named '{name}' is built into advrobust " +
                                           $"(there are: {string.Join(", ", Names)})");
        using var reader = new StreamReader(stream);
        return TrainConfig.Parse(reader.ReadToEnd(), "preset " + name, overrides);
    }
}
