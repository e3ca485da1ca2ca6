using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Builds a training objective by kind from optional JSON settings, e.g.
/// <c>Create("pgd-at", JsonDocument.Parse("{\"eps\":0.1,\"steps\":10,\"stepSize\":0.01}").RootElement, context)</c>.
/// Keys are the settings' property names in camelCase, enums are strings ("linf", "l2"); a missing key keeps its
/// default, an unknown key or a bad value is an <see cref="ArgumentException"/> that names it.
/// </summary>
public static class TrainingObjectives
{
    public static IReadOnlyList<string> Kinds { get; } = ["standard", "pgd-at", "trades", "tla", "gaussian-noise"];

    /// <summary>How settings are read and written (the run manifest should write them with these options).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public static ITrainingObjective Create(string kind, JsonElement? settings, ObjectiveContext context)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(context);
        return kind switch
        {
            "standard" => new StandardObjective(Read<StandardSettings>(kind, settings)),
            "pgd-at" => new PgdAtObjective(Read<PgdAtSettings>(kind, settings)),
            "trades" => new TradesObjective(Read<TradesSettings>(kind, settings)),
            "tla" => new TlaObjective(Read<TlaSettings>(kind, settings), context),
            "gaussian-noise" => new GaussianNoiseObjective(Read<GaussianNoiseSettings>(kind, settings)),
            _ => throw new ArgumentException(
                $"unknown training objective '{kind}'; known: {string.Join(", ", Kinds)}", nameof(kind)),
        };
    }

    /// <summary>An objective's settings as JSON, in the form <see cref="Create"/> reads.</summary>
    public static string ToJson(object settings) => JsonSerializer.Serialize(settings, settings.GetType(), JsonOptions);

    private static T Read<T>(string kind, JsonElement? settings) where T : new()
    {
        if (settings is not { } json || json.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return new T();
        if (json.ValueKind != JsonValueKind.Object)
            throw new ArgumentException($"{kind} settings must be a JSON object, got {json.ValueKind}: {json}");
        string[] valid = JsonOptions.GetTypeInfo(typeof(T)).Properties.Select(p => p.Name).ToArray();
        foreach (var property in json.EnumerateObject())
            if (!valid.Contains(property.Name, StringComparer.Ordinal))
                throw new ArgumentException(
                    $"unknown {kind} setting '{property.Name}'; valid settings: {string.Join(", ", valid)}");
        try
        {
            return json.Deserialize<T>(JsonOptions)
                ?? throw new ArgumentException($"{kind} settings deserialized to null: {json}");
        }
        catch (JsonException e)
        {
            string key = e.Path is { Length: > 2 } path ? path[2..] : "?";
            throw new ArgumentException(
                $"bad value for {kind} setting '{key}': {(json.TryGetProperty(key, out var v) ? v.ToString() : "")} " +
                $"({e.Message})", e);
        }
    }
}
