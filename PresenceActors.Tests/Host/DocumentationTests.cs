using System.Text.RegularExpressions;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// The repository stands on its own: code comments cite only documents it contains (docs/…), and the sections they
/// name exist there.
/// </summary>
public partial class DocumentationTests
{
    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    private static IEnumerable<(string File, int Line, string Text)> SourceLines()
    {
        var root = RepositoryRoot();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Contains("bin") || parts.Contains("obj") || relative.EndsWith("DocumentationTests.cs", StringComparison.Ordinal))
                continue;
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
                yield return (relative, i + 1, lines[i]);
        }
    }

    [GeneratedRegex(@"\bDESIGN\b|\b[Cc]ontract sections? \d|\.\./shared|akka-notes|STYLE\.md|reference/graph-contract|seed/0")]
    private static partial Regex OutsideCitation();

    [GeneratedRegex(@"docs/([a-z-]+\.md)(?:, sections? (\d+)|, (\d+\.\d+))?")]
    private static partial Regex DocsCitation();

    [Fact]
    public void No_source_cites_a_document_outside_the_repository()
    {
        var outside = SourceLines().Where(l => OutsideCitation().IsMatch(l.Text)).Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}").ToList();
        Assert.True(outside.Count == 0, string.Join(Environment.NewLine, outside));
    }

    [Fact]
    public void Every_document_and_section_the_code_cites_exists()
    {
        var docs = Path.Combine(RepositoryRoot(), "docs");
        var missing = new List<string>();
        var cited = 0;
        foreach (var (file, line, text) in SourceLines())
        {
            foreach (Match m in DocsCitation().Matches(text))
            {
                cited++;
                var path = Path.Combine(docs, m.Groups[1].Value);
                if (!File.Exists(path))
                {
                    missing.Add($"{file}:{line}: {m.Value} (no such document)");
                    continue;
                }

                var section = m.Groups[2].Success ? $"## {m.Groups[2].Value}." : m.Groups[3].Success ? $"### {m.Groups[3].Value} " : null;
                if (section is not null && !File.ReadLines(path).Any(l => l.StartsWith(section, StringComparison.Ordinal)))
                    missing.Add($"{file}:{line}: {m.Value} (no heading '{section}')");
            }
        }

        Assert.True(cited > 50, $"only {cited} citations found: is the repository root right?");
        Assert.True(missing.Count == 0, string.Join(Environment.NewLine, missing));
    }
}
