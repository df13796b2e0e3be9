using System.Text;
using System.Text.RegularExpressions;

namespace PresenceActors.Host.Configuration;

/// <summary>
/// Reads the UC Graph Connector's application.properties as an operator has it (Java properties syntax: '=' or ':',
/// # and ! comments, backslash continuations and escapes). Values copied from the manual keep their link markup
/// ("[https://a|https://a]]"); that is unwrapped to the URL.
/// </summary>
public static partial class PropertiesFile
{
    [GeneratedRegex(@"^\[(?<label>[^|\]]*)\|(?<target>[^\]]*)\]+$")]
    private static partial Regex WikiLink();

    public static Dictionary<string, string> Parse(string text, out List<string> problems)
    {
        problems = [];
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var lineNumber = i + 1;
            var line = lines[i].TrimStart();
            if (line.Length == 0 || line[0] is '#' or '!')
                continue;
            var logical = new StringBuilder();
            while (EndsWithContinuation(line) && i + 1 < lines.Length)
            {
                logical.Append(line[..^1]);
                line = lines[++i].TrimStart();
            }

            logical.Append(line);
            var entry = logical.ToString();
            var split = FindSeparator(entry);
            if (split < 0)
            {
                // Not quoted: a line without a key is often a value pasted on its own, a password as likely as not.
                problems.Add($"line {lineNumber} is not 'key = value' ({entry.Length} characters without '=' or ':'; not shown, it may be a secret).");
                continue;
            }

            var key = Unescape(entry[..split].Trim());
            var value = Unescape(entry[(split + 1)..].Trim());
            if (key.Length == 0)
            {
                problems.Add($"line {lineNumber}: a value without a key.");
                continue;
            }

            result[key] = Unwrap(value);
        }

        return result;
    }

    /// <summary>Manual excerpts carry wiki links; comma-separated lists may hold several.</summary>
    private static string Unwrap(string value) =>
        string.Join(",", value.Split(',').Select(part =>
        {
            var trimmed = part.Trim();
            var link = WikiLink().Match(trimmed);
            return link.Success ? link.Groups["target"].Value.Trim() : trimmed;
        }));

    private static bool EndsWithContinuation(string line)
    {
        var backslashes = 0;
        for (var j = line.Length - 1; j >= 0 && line[j] == '\\'; j--)
            backslashes++;
        return backslashes % 2 == 1;
    }

    private static int FindSeparator(string entry)
    {
        for (var j = 0; j < entry.Length; j++)
        {
            if (entry[j] == '\\')
            {
                j++;
                continue;
            }

            if (entry[j] is '=' or ':')
                return j;
            if (char.IsWhiteSpace(entry[j]))
            {
                var k = j;
                while (k < entry.Length && char.IsWhiteSpace(entry[k]))
                    k++;
                return k < entry.Length && entry[k] is '=' or ':' ? k : j;
            }
        }

        return -1;
    }

    private static string Unescape(string text)
    {
        if (!text.Contains('\\'))
            return text;
        var builder = new StringBuilder(text.Length);
        for (var j = 0; j < text.Length; j++)
        {
            if (text[j] != '\\' || j + 1 >= text.Length)
            {
                builder.Append(text[j]);
                continue;
            }

            var next = text[++j];
            switch (next)
            {
                case 't': builder.Append('\t'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 'u' when j + 4 < text.Length && int.TryParse(text.AsSpan(j + 1, 4), System.Globalization.NumberStyles.HexNumber, null, out var code):
                    builder.Append((char)code);
                    j += 4;
                    break;
                default: builder.Append(next); break;
            }
        }

        return builder.ToString();
    }
}
