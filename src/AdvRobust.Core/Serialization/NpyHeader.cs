using System.Globalization;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// The .npy header dict: a Python literal such as
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>.
/// The parser accepts exactly what numpy writes and reads: string keys (single or double quotes), a string descr,
/// True/False, and a tuple of non-negative integers (a trailing comma and Python 2's 'L' suffix allowed).
/// It needs exactly the three keys descr, fortran_order and shape, as numpy.lib.format does.
/// </summary>
internal static class NpyHeader
{
    public static string Format(string descr, int[] shape)
    {
        string dims = shape.Length switch
        {
            0 => "()",
            1 => $"({shape[0]},)",
            _ => "(" + string.Join(", ", shape) + ")",
        };
        return $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}";
    }

    public static (string Descr, bool FortranOrder, int[] Shape) Parse(string text, string name)
    {
        var p = new Parser(text, name);
        var dict = p.ParseDict();
        p.ExpectEnd();
        foreach (string key in dict.Keys)
            if (key is not ("descr" or "fortran_order" or "shape"))
                throw p.Error($"unexpected key '{TextPreview.Escape(key)}' " +
                    "(expected exactly 'descr', 'fortran_order' and 'shape')");
        string descr = dict.TryGetValue("descr", out var d) && d is string s
            ? s
            : throw p.Error(d is null
                ? "missing key 'descr'"
                : "'descr' is not a string (structured dtypes are not supported)");
        bool fortran = dict.TryGetValue("fortran_order", out var f) && f is bool b
            ? b : throw p.Error(f is null ? "missing key 'fortran_order'" : "'fortran_order' is not True or False");
        int[] shape = dict.TryGetValue("shape", out var sh) && sh is int[] dims
            ? dims : throw p.Error(sh is null ? "missing key 'shape'" : "'shape' is not a tuple of integers");
        return (descr, fortran, shape);
    }

    private sealed class Parser(string text, string name)
    {
        private int _pos;

        public InvalidDataException Error(string what) =>
            new($"{name}: bad .npy header: {what} in {TextPreview.Quote(text.TrimEnd())}");

        public Dictionary<string, object> ParseDict()
        {
            var dict = new Dictionary<string, object>();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; return dict; }
                string key = ParseString();
                Expect(':');
                object value = ParseValue();
                if (!dict.TryAdd(key, value)) throw Error($"duplicate key '{TextPreview.Escape(key)}'");
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                Expect('}');
                return dict;
            }
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos != text.Length) throw Error($"unexpected '{Here}' after the dict at position {_pos}");
        }

        private object ParseValue()
        {
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"') return ParseString();
            if (c == '(') return ParseTuple();
            if (Match("True")) return true;
            if (Match("False")) return false;
            if (c == '[') throw Error($"a list at position {_pos}: structured dtypes are not supported");
            throw Error(c == '\0' ? "unexpected end" : $"unexpected '{TextPreview.Escape([c])}' at position {_pos}");
        }

        private int[] ParseTuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _pos++; return [.. dims]; }
                int start = _pos;
                while (char.IsAsciiDigit(Peek())) _pos++;
                if (start == _pos) throw Error($"expected a non-negative integer at position {start}");
                var digits = text.AsSpan(start, _pos - start);
                if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw Error($"dimension {text[start.._pos]} is larger than {int.MaxValue}");
                if (Peek() == 'L') _pos++;
                dims.Add(d);
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                Expect(')');
                return [.. dims];
            }
        }

        private string ParseString()
        {
            SkipSpace();
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Error($"expected a quoted string at position {_pos}");
            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0) throw Error("unterminated string");
            string s = text[(_pos + 1)..end];
            if (s.Contains('\\')) throw Error("escape sequences are not supported");
            _pos = end + 1;
            return s;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c)
                throw Error(_pos >= text.Length
                    ? $"expected '{c}' but the header ended"
                    : $"expected '{c}' at position {_pos}, found '{Here}'");
            _pos++;
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        /// <summary>The character at the cursor, escaped (a header may hold any byte).</summary>
        private string Here => TextPreview.Escape(text.AsSpan(_pos, 1));

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }
    }
}
