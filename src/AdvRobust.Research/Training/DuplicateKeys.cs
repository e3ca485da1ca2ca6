using System.Text;
using System.Text.Json;

namespace AdvRobust.Research.Training;

/// <summary>
/// Refuses a JSON config that names a key twice in one object. JsonNode would stop at the second one with a bare
/// "An item with the same key has already been added"; JSON itself leaves the meaning open, and taking either value
/// silently would run a config the user did not mean. The message names the source, the key's full path and both
/// lines.
/// </summary>
internal static class DuplicateKeys
{
    /// <summary>Throws when an object of <paramref name="json"/> repeats a key. Text that is not valid JSON passes
    /// (the parser then says what is wrong with it).</summary>
    public static void Check(string json, string source, string prefix = "")
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        });
        // One frame per open object or array: the keys an object has seen, with their lines (null for an array),
        // and its path.
        var frames = new Stack<(Dictionary<string, int>? Keys, string Path)>();
        string pendingKey = "";
        int line = 1;
        long counted = 0;
        try
        {
            while (reader.Read())
            {
                for (; counted < reader.TokenStartIndex; counted++)
                    if (bytes[counted] == '\n') line++;
                string path = frames.Count == 0 ? prefix
                    : frames.Peek().Keys is null ? frames.Peek().Path + "[]"
                    : Child(frames.Peek().Path, pendingKey);
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        frames.Push((new Dictionary<string, int>(StringComparer.Ordinal), path));
                        break;
                    case JsonTokenType.StartArray:
                        frames.Push((null, path));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        string key = reader.GetString()!;
                        var keys = frames.Peek().Keys!;
                        if (!keys.TryAdd(key, line))
                            throw new InvalidDataException(
                                $"{source}: key '{Child(frames.Peek().Path, key)}' is given twice, on line " +
                                $"{keys[key]} and line {line}; keep one");
                        pendingKey = key;
                        continue;
                }
                pendingKey = "";
            }
        }
        catch (JsonException)
        {
            // not valid JSON: the parser reports it
        }
    }

    private static string Child(string parent, string name) => parent.Length == 0 ? name : parent + "." + name;
}
