using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace IlgpuElmo.Cli;

/// <summary>
/// A command line that does not parse gets one line, `error: WHAT; see 'elmo COMMAND --help'` (exit code 2),
/// never a help dump: an unknown command or option (with the nearest name when one is close), an
/// unexpected argument, a missing required option, a value that is not a number.
/// </summary>
static class CommandLineErrors
{
    /// <summary>The one line for a parse that failed: what is wrong and where the help is.</summary>
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string name = CommandLine(parse.CommandResult);
        return $"{What(parse, command, name)}; see '{name} --help'";
    }

    static string What(ParseResult parse, Command command, string name)
    {
        if (parse.UnmatchedTokens.Count > 0)
        {
            string token = parse.UnmatchedTokens[0];
            if (token.StartsWith('-'))
                return $"unknown option '{token}' for '{name}'{Nearest(token, command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)))}";
            if (command.Subcommands.Count > 0)
            {
                string nearest = Nearest(token, command.Subcommands.Select(c => c.Name));
                return $"'{token}' is not a command of '{name}'{(nearest.Length > 0 ? nearest : $" (commands: {Names(command)})")}";
            }
            return $"unexpected argument '{token}' for '{name}'";
        }
        if (command.Action is null && command.Subcommands.Count > 0)
            return $"'{name}' needs a command: {Names(command)}";
        if (command.Options.FirstOrDefault(o => o.Required && parse.GetResult(o)?.IdentifierToken is null) is { } missing)
            return $"{missing.Name} is required";
        return parse.Errors[0].Message.TrimEnd('.');
    }

    /// <summary>
    /// Makes every numeric option of <paramref name="root"/> and its commands report a value that is not a
    /// number by its option and value ("--steps: 'ten' is not a whole number"), not by .NET's type name.
    /// </summary>
    public static void ExplainNumbers(Command root)
    {
        foreach (var option in root.Options)
        {
            switch (option)
            {
                case Option<int> o: o.CustomParser = r => Number<int>(r, NumberStyles.Integer); break;
                case Option<int?> o: o.CustomParser = r => Number<int>(r, NumberStyles.Integer); break;
                case Option<long?> o: o.CustomParser = r => Number<long>(r, NumberStyles.Integer); break;
                case Option<ulong?> o: o.CustomParser = r => Number<ulong>(r, NumberStyles.Integer); break;
                case Option<float> o: o.CustomParser = r => Number<float>(r, NumberStyles.Float); break;
                case Option<double?> o: o.CustomParser = r => Number<double>(r, NumberStyles.Float); break;
            }
        }
        foreach (var command in root.Subcommands) ExplainNumbers(command);
    }

    static T Number<T>(ArgumentResult result, NumberStyles style) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        string token = result.Tokens[0].Value;
        if (T.TryParse(token, style, CultureInfo.InvariantCulture, out var value)) return value;
        string option = result.Parent is OptionResult o ? o.Option.Name : "a value";
        if (style != NumberStyles.Integer) result.AddError($"{option}: '{token}' is not a number");
        else if (BigInteger.TryParse(token, style, CultureInfo.InvariantCulture, out _)) result.AddError($"{option}: {token} is out of range ({T.MinValue} to {T.MaxValue})");
        else result.AddError($"{option}: '{token}' is not a whole number");
        return default;
    }

    /// <summary>"elmo probe pos": the command line up to the command that was parsed.</summary>
    static string CommandLine(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            names.Insert(0, c.Parent is null ? "elmo" : c.Command.Name);
        return string.Join(' ', names);
    }

    static string Names(Command command) => string.Join(", ", command.Subcommands.Select(c => c.Name));

    /// <summary>" (did you mean 'train'?)" when a name is within two edits of <paramref name="token"/>.</summary>
    static string Nearest(string token, IEnumerable<string> names)
    {
        var best = names.Select(n => (Name: n, Distance: EditDistance(token, n))).MinBy(x => x.Distance);
        return best.Name is not null && best.Distance <= 2 ? $" (did you mean '{best.Name}'?)" : "";
    }

    static int EditDistance(string a, string b)
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
