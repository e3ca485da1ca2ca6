using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace AdvRobust.Cli;

/// <summary>
/// System.CommandLine's parse errors said in our words, one line per fault, without .NET type names:
/// "--eps: 'abc' is not a number", "--seed: must be >= 0, got '-1'", "unknown option --fo (did you mean --foo?)",
/// "--model is required", "--out given twice", "--eps needs a value". The faults are read from the parse result's
/// structure (unmatched tokens, the options' results and types), not from the library's localized messages, which
/// are only printed, as they are, when nothing here explains an error.
/// </summary>
internal static class ParseErrors
{
    public static IReadOnlyList<string> Describe(ParseResult result)
    {
        var command = result.CommandResult.Command;
        var messages = new List<string>();
        bool afterUnknownOption = false;
        foreach (string token in result.UnmatchedTokens)
        {
            bool looksLikeOption = token.Length > 1 && token.StartsWith('-')
                && !double.TryParse(token, CultureInfo.InvariantCulture, out _);
            if (looksLikeOption)
            {
                messages.Add($"unknown option {token}{Suggest(token, OptionNames(command))}");
                afterUnknownOption = true;
            }
            else if (!afterUnknownOption)
                messages.Add(command.Subcommands.Count > 0
                    ? $"unknown command '{token}'{Suggest(token, command.Subcommands.Select(c => c.Name))}"
                    : $"unexpected argument '{token}'");
            else afterUnknownOption = false; // the unknown option's value
        }
        if (command.Subcommands.Count > 0 && command.Action is null && result.UnmatchedTokens.Count == 0)
            messages.Add($"{Path(command)} needs a command: " +
                string.Join(", ", command.Subcommands.Select(c => c.Name)));

        foreach (var option in command.Options)
        {
            if (Describe(result, option) is { } message) messages.Add(message);
        }
        foreach (var argument in command.Arguments)
        {
            var r = result.GetResult(argument);
            if ((r is null || r.Tokens.Count == 0) && argument.Arity.MinimumNumberOfValues > 0)
                messages.Add($"{Path(command)} needs " +
                    $"{(argument.Arity.MaximumNumberOfValues > 1 ? "at least one " : "")}<{argument.Name}>");
        }
        if (messages.Count == 0) messages.AddRange(result.Errors.Select(e => e.Message).Distinct());
        return messages;
    }

    private static string? Describe(ParseResult result, Option option)
    {
        var r = result.GetResult(option);
        if (r is null || r.Implicit) return option.Required ? $"{option.Name} is required" : null;
        bool takesValue = option.Arity.MaximumNumberOfValues > 0 && option.ValueType != typeof(bool);
        if (takesValue && option.Arity.MaximumNumberOfValues == 1 && r.IdentifierTokenCount > 1)
            return r.IdentifierTokenCount == 2 ? $"{option.Name} given twice"
                : $"{option.Name} given {r.IdentifierTokenCount} times";
        if (r.Tokens.Count == 0 && option.Arity.MinimumNumberOfValues > 0) return $"{option.Name} needs a value";
        foreach (var token in r.Tokens)
        {
            if (Commands.OptionRules.Fault(option.ValueType, token.Value) is { } fault) return $"{option.Name}: {fault}";
        }
        // Our validators (OptionRules) already speak our words; the library's other messages are kept as they are.
        var errors = result.Errors.Where(e => e.SymbolResult == r || e.SymbolResult?.Parent == r).ToList();
        return errors.Count > 0 ? errors[0].Message : null;
    }

    private static IEnumerable<string> OptionNames(Command command)
    {
        for (Command? c = command; c is not null; c = Parent(c))
            foreach (var option in c.Options)
                if (c == command || option.Recursive)
                    foreach (string name in option.Aliases.Prepend(option.Name)) yield return name;
    }

    private static Command? Parent(Command command) => command.Parents.OfType<Command>().FirstOrDefault();

    private static string Path(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null; c = Parent(c))
            names.Insert(0, c is RootCommand ? "advrobust" : c.Name);
        return string.Join(' ', names);
    }

    /// <summary>" (did you mean X?)" for the closest candidate within a few edits, else "".</summary>
    private static string Suggest(string token, IEnumerable<string> candidates)
    {
        string typed = token.Split('=')[0];
        var best = candidates
            .Select(c => (Name: c, Distance: Distance(typed, c)))
            .Where(c => c.Distance <= Math.Max(2, c.Name.Length / 3))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is null ? "" : $" (did you mean {best.Name}?)";
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
