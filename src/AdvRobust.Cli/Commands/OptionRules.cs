using System.CommandLine;
using System.Globalization;
using System.Numerics;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// The rule every numeric option of the command line shares: a count, a radius, a step size, a seed or a
/// probability is a finite number >= 0 (no option of ours takes a negative value). Checked once, while parsing, so
/// that "--seed -1" and "--eps NaN" are refused before any work with a message in our words; the commands check
/// their own upper bounds and zeros where those matter.
/// </summary>
internal static class OptionRules
{
    /// <summary>Adds the rule to every numeric option of <paramref name="command"/> and its subcommands.</summary>
    public static void Apply(Command command)
    {
        foreach (var option in command.Options.Where(o => IsNumeric(o.ValueType)))
        {
            option.Validators.Add(result =>
            {
                foreach (var token in result.Tokens)
                {
                    if (Fault(option.ValueType, token.Value) is { } fault)
                    {
                        result.AddError($"{option.Name}: {fault}");
                        return;
                    }
                }
            });
        }
        foreach (var sub in command.Subcommands) Apply(sub);
    }

    /// <summary>What is wrong with <paramref name="text"/> as a value of a numeric option of type
    /// <paramref name="type"/> (int, long, ulong, float, double or their nullables), or null when it is fine or the
    /// type is not numeric.</summary>
    public static string? Fault(Type type, string text)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (!IsNumeric(t)) return null;
        bool whole = t == typeof(int) || t == typeof(long) || t == typeof(ulong);
        if (whole)
        {
            if (!BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture,
                    out var value))
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                    ? $"'{text}' is not a whole number"
                    : $"'{text}' is not an integer";
            if (value.Sign < 0) return $"must be >= 0, got {text}";
            BigInteger max = t == typeof(int) ? int.MaxValue : t == typeof(long) ? long.MaxValue : ulong.MaxValue;
            return value > max ? $"{text} is too large (at most {max})" : null;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
            return $"'{text}' is not a number";
        if (!double.IsFinite(number) || (t == typeof(float) && !float.IsFinite((float)number)))
            return $"must be a finite number, got {text}";
        return number < 0 ? $"must be >= 0, got {text}" : null;
    }

    private static bool IsNumeric(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(int) || t == typeof(long) || t == typeof(ulong) || t == typeof(float) || t == typeof(double);
    }
}
