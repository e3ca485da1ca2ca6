using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AdvRobust.Research.Training;

/// <summary>
/// The config's schema is the <see cref="TrainConfig"/> record tree itself: a property whose type is one of its
/// "*Config" records is a section, a <see cref="JsonElement"/> is free-form JSON (the objective's settings, checked by
/// the objective factory), anything else is a typed value. Both the file and every <c>--set</c> are checked against
/// it before deserializing, so an unknown key names the section and lists the keys it has, and a bad value names its
/// key and the type it needs; System.Text.Json (with unmapped members disallowed and nullable annotations respected)
/// is the backstop.
/// </summary>
public static class ConfigSchema
{
    /// <summary>camelCase, indented, strict: the options every config and manifest is read and written with.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Strips "_" comment keys, checks the tree, applies the overrides in order, deserializes and
    /// validates.</summary>
    internal static TrainConfig Resolve(JsonObject root, string source, IReadOnlyList<string> overrides)
    {
        StripComments(root);
        CheckSection(root, typeof(TrainConfig), "", source);
        foreach (string assignment in overrides) Apply(root, assignment);
        TrainConfig? config;
        try
        {
            config = root.Deserialize<TrainConfig>(Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {e.Path}: {e.Message}", e);
        }
        if (config is null) throw new InvalidDataException($"{source}: the config is null");
        config.Validate(source);
        return config;
    }

    /// <summary>The keys a section has, in declaration order (for messages and docs).</summary>
    public static IReadOnlyList<string> Keys(Type section) => Ordered(section).Select(p => p.Key).ToList();

    /// <summary>Applies one <c>key.path=value</c>. The value is read as the key's type: numbers, true/false,
    /// strings as they are (no quotes needed), arrays as JSON or comma-separated ("30,40"), null for optional keys;
    /// inside <c>objective.settings</c> as JSON when it parses, else as a string.</summary>
    internal static void Apply(JsonObject root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0)
            throw new ArgumentException($"--set '{assignment}': expected key.path=value, e.g. optimizer.lr=0.05");
        string key = assignment[..eq].Trim(), text = assignment[(eq + 1)..];
        DuplicateKeys.Check(text, $"--set {key}", key);
        string[] parts = key.Split('.');
        if (parts.Any(string.IsNullOrEmpty)) throw new ArgumentException($"--set '{assignment}': empty key segment");
        JsonObject node = root;
        Type section = typeof(TrainConfig);
        for (int i = 0; i < parts.Length; i++)
        {
            string path = string.Join('.', parts[..(i + 1)]);
            if (!Properties(section).TryGetValue(parts[i], out var property))
                throw new ArgumentException($"--set {key}: unknown key '{path}'; " +
                    $"{SectionName(string.Join('.', parts[..i]))} has {string.Join(", ", Keys(section))}");
            Type type = property.PropertyType;
            bool last = i == parts.Length - 1;
            if (IsFreeForm(type) && !last)
            {
                node[parts[i]] = SetFreeForm(node[parts[i]] as JsonObject, parts[(i + 1)..], text);
                return;
            }
            if (last)
            {
                node[parts[i]] = ParseValue(text, property, key);
                return;
            }
            if (!IsSection(type))
                throw new ArgumentException($"--set {key}: '{path}' is a value, not a section with keys");
            if (node[parts[i]] is not JsonObject child) node[parts[i]] = child = new JsonObject();
            (node, section) = (child, type);
        }
    }

    /// <summary>Sets a key inside free-form JSON (creating objects on the way): the value as JSON when it parses,
    /// else as a string (a bare word such as linf).</summary>
    private static JsonObject SetFreeForm(JsonObject? target, string[] parts, string text)
    {
        var root = target ?? new JsonObject();
        var node = root;
        foreach (string part in parts[..^1])
        {
            if (node[part] is not JsonObject child) node[part] = child = new JsonObject();
            node = child;
        }
        node[parts[^1]] = TryParse(text) ?? JsonValue.Create(text);
        return root;
    }

    /// <summary>Reads <paramref name="text"/> as a value of the property's type, or throws naming the key.</summary>
    private static JsonNode? ParseValue(string text, PropertyInfo property, string key)
    {
        Type type = property.PropertyType;
        if (text == "null")
        {
            if (!IsNullable(property))
                throw new ArgumentException($"--set {key}: the key is required, it cannot be null");
            return null;
        }
        JsonNode? node = type == typeof(string) ? JsonValue.Create(text)
            : type.IsArray ? TryParse(text) as JsonArray ?? TryParse($"[{text}]")
            : TryParse(text);
        if (node is JsonObject obj && IsSection(type))
        {
            StripComments(obj);
            CheckSection(obj, type, key + ".", "--set");
        }
        CheckValue(node, property, key, "--set", text);
        return node;
    }

    private static JsonNode? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void CheckSection(JsonObject obj, Type section, string prefix, string source)
    {
        var properties = Properties(section);
        foreach (var (key, value) in obj)
        {
            if (!properties.TryGetValue(key, out var property))
                throw new ArgumentException($"{source}: unknown key '{prefix}{key}'; " +
                    $"{SectionName(prefix.TrimEnd('.'))} has {string.Join(", ", Keys(section))}");
            if (IsSection(property.PropertyType) && value is JsonObject child)
                CheckSection(child, property.PropertyType, $"{prefix}{key}.", source);
            else
                CheckValue(value, property, prefix + key, source, value?.ToJsonString() ?? "null");
        }
    }

    /// <summary>Deserializes one value as the key's type, turning a failure into a message naming the key.</summary>
    private static void CheckValue(JsonNode? value, PropertyInfo property, string key, string source, string shown)
    {
        Type type = property.PropertyType;
        bool ok = value is null ? IsNullable(property) : !IsFreeForm(type) || value is JsonObject;
        if (ok && value is not null)
        {
            try
            {
                _ = value.Deserialize(type, Options);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                ok = false;
            }
        }
        if (!ok) throw new ArgumentException($"{source}: '{key}' must be {Describe(property)}, got {shown}");
    }

    private static string Describe(PropertyInfo property)
    {
        Type t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        string what = t == typeof(int) || t == typeof(long) ? "an integer"
            : t == typeof(ulong) ? "a non-negative integer"
            : t == typeof(float) || t == typeof(double) ? "a number"
            : t == typeof(bool) ? "true or false"
            : t == typeof(string) ? "a string"
            : t == typeof(int[]) ? "an array of integers (e.g. [30,40] or 30,40)"
            : t == typeof(float[]) ? "an array of numbers (e.g. [0.5,0.5,0.5])"
            : t == typeof(JsonElement) ? "a JSON object"
            : IsSection(t) ? $"an object with keys {string.Join(", ", Keys(t))}"
            : t.Name;
        return IsNullable(property) ? what + " or null" : what;
    }

    private static string SectionName(string path) => path.Length == 0 ? "the config" : $"'{path}'";

    private static void StripComments(JsonObject obj)
    {
        foreach (string key in obj.Select(p => p.Key).Where(k => k.StartsWith('_')).ToList()) obj.Remove(key);
        foreach (var (_, value) in obj)
        {
            if (value is JsonObject child) StripComments(child);
        }
    }

    private static bool IsSection(Type type) =>
        type.IsClass && type.Namespace == typeof(TrainConfig).Namespace
        && type.Name.EndsWith("Config", StringComparison.Ordinal);

    private static bool IsFreeForm(Type type) => (Nullable.GetUnderlyingType(type) ?? type) == typeof(JsonElement);

    private static bool IsNullable(PropertyInfo property) =>
        Nullable.GetUnderlyingType(property.PropertyType) is not null
        || new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable;

    /// <summary>A section's keys (camelCase property names) in declaration order.</summary>
    private static IEnumerable<KeyValuePair<string, PropertyInfo>> Ordered(Type section) =>
        section.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => KeyValuePair.Create(JsonNamingPolicy.CamelCase.ConvertName(p.Name), p));

    private static Dictionary<string, PropertyInfo> Properties(Type section) =>
        new(Ordered(section), StringComparer.Ordinal);
}
