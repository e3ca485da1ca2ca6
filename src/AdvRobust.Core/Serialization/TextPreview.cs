using System.Globalization;
using System.Text;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// Text from a file shown in an error message: quoted, at most <c>max</c> characters, every character that is not
/// printable ASCII escaped (\n, \t, \0, \xNN, \uNNNN), so a binary header never reaches a terminal as raw bytes.
/// </summary>
public static class TextPreview
{
    public const int DefaultMax = 60;

    /// <summary>The text in double quotes, escaped, cut at <paramref name="max"/> characters with a note of the
    /// full length.</summary>
    public static string Quote(ReadOnlySpan<char> text, int max = DefaultMax) =>
        "\"" + Escape(text[..Math.Min(text.Length, max)], max) + "\""
        + (text.Length > max ? $"… ({text.Length.ToString(CultureInfo.InvariantCulture)} characters in all)" : "");

    /// <summary>The text escaped, without quotes, cut at <paramref name="max"/> characters (then ending in "…"); for
    /// a name inside a message's own quotes, e.g. <c>dtype '{Escape(descr)}'</c>.</summary>
    public static string Escape(ReadOnlySpan<char> text, int max = DefaultMax)
    {
        var sb = new StringBuilder(Math.Min(text.Length, max) + 8);
        foreach (char c in text[..Math.Min(text.Length, max)])
        {
            switch (c)
            {
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\0': sb.Append("\\0"); break;
                case '"' or '\\': sb.Append('\\').Append(c); break;
                case >= ' ' and <= '~': sb.Append(c); break;
                case <= '\xFF': sb.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)); break;
                default: sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)); break;
            }
        }
        if (text.Length > max) sb.Append('…');
        return sb.ToString();
    }
}
