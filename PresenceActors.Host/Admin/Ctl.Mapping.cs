using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PresenceActors.Host.Admin;

/// <summary>A command line input that cannot be used (a file that cannot be read): reported, exit code 2, nothing sent.</summary>
public sealed class CtlInputException(string message) : Exception(message);

/// <summary>`ctl mapping …`: the table of what crosses between Teams and UC (docs/mapping.md).</summary>
public static partial class Ctl
{
    private delegate Command LeafFactory(string name, string description, Func<ParseResult, (HttpMethod Method, string Path, object? Body)> request,
        Action<JsonNode, TextWriter> table, params Symbol[] symbols);

    private static Command MappingCommand(LeafFactory leaf, Argument<string> user)
    {
        var file = new Argument<FileInfo>("file") { Description = "the table as JSON (as `ctl mapping show --json` prints it)" };
        var comment = new Option<string?>("--comment") { Description = "why, for the history" };
        var basedOn = new Option<int?>("--based-on") { Description = "the version the edit was made from (default: the file's \"version\")" };
        var setting = new Argument<string>("setting") { Description = "on, off, or default (the table's busyOnBusy)" };
        setting.AcceptOnlyFromAmong("on", "off", "default");
        return new Command("mapping", "which Teams and UC states cross, and busy-on-busy")
        {
            leaf("show", "the table in force and its version", _ => (HttpMethod.Get, "/admin/mapping", null), MappingTable),
            leaf("history", "every saved edit: version, when, who and why", _ => (HttpMethod.Get, "/admin/mapping/history", null), HistoryTable),
            leaf("preview", "which users in memory a table would change, without saving it",
                p => (HttpMethod.Post, "/admin/mapping/preview", new { mapping = ReadTable(p.GetValue(file)!) }), PreviewTable, file),
            leaf("set", "save a table as the next version (refused when another edit came first)",
                p =>
                {
                    var table = ReadTable(p.GetValue(file)!);
                    var from = p.GetValue(basedOn) ?? VersionIn(table, p.GetValue(file)!);
                    return (HttpMethod.Post, "/admin/mapping", new { mapping = table, basedOn = from, comment = p.GetValue(comment) });
                },
                SavedTable, file, comment, basedOn),
            leaf("busy-on-busy", "busy-on-busy for one user: on, off, or as the table says",
                p => (HttpMethod.Post, "/admin/mapping/busy-on-busy", new { user = p.GetValue(user), setting = p.GetValue(setting) }), SavedTable, user, setting),
        };
    }

    private static int VersionIn(JsonObject table, FileInfo file) =>
        table["version"] is JsonValue v && v.TryGetValue<int>(out var version)
            ? version
            : throw new CtlInputException($"{file.Name}: \"version\" must be the whole number of the version it was edited from (or give --based-on).");

    private static JsonObject ReadTable(FileInfo file)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(file.FullName)) as JsonObject
                   ?? throw new CtlInputException($"{file.Name}: the table must be a JSON object.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CtlInputException($"Cannot read {file.FullName}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new CtlInputException($"{file.Name} is not JSON: {e.Message}");
        }
    }

    private static void MappingTable(JsonNode node, TextWriter output)
    {
        output.WriteLine($"version {S(node["version"])}; busy-on-busy {(node["busyOnBusy"]?.GetValue<bool>() == true ? "on" : "off")}"
                         + $" (on for {node["busyOnBusyOn"]?.AsArray().Count ?? 0} users, off for {node["busyOnBusyOff"]?.AsArray().Count ?? 0})");
        Table(output, ["row", "Teams availability", "Teams activity", "sets UC"],
            node["teamsToUc"]!.AsArray().Select((r, i) => new[] { $"teamsToUc[{i}]", S(r!["availability"]) is "-" ? "*" : S(r["availability"]), S(r["activity"]), S(r["ucStatus"]) }));
        output.WriteLine();
        Table(output, ["row", "UC", "our Teams session shows"],
            node["ucToTeams"]!.AsArray().Select((r, i) => new[] { $"ucToTeams[{i}]", S(r!["trigger"]) == "phone" ? "phone call" : S(r["trigger"]), $"{S(r["availability"])}/{S(r["activity"])}" }));
    }

    private static void HistoryTable(JsonNode node, TextWriter output) =>
        Table(output, ["version", "at", "by", "why"],
            node.AsArray().Select(e => new[] { S(e!["version"]), S(e["at"]), S(e["by"]), S(e["comment"]) }));

    private static void PreviewTable(JsonNode node, TextWriter output)
    {
        ChangesTable(node["changes"]!.AsArray(), output);
        output.WriteLine($"{S(node["changing"])} of {S(node["examined"])} users in memory would change (the first {node["changes"]!.AsArray().Count} listed); users not in memory are judged when they next start.");
        foreach (var silent in node["silent"]?.AsArray() ?? [])
            output.WriteLine($"no answer from {S(silent)}: its users are not in this preview");
    }

    private static void SavedTable(JsonNode node, TextWriter output)
    {
        if (node["changes"] is JsonArray changes && changes.Count > 0)
            ChangesTable(changes, output);
        output.WriteLine(S(node["message"]));
    }

    private static void ChangesTable(JsonArray changes, TextWriter output) =>
        Table(output, ["UC user", "Teams user", "Teams now", "UC now", "would write"],
            changes.Select(c => new[] { S(c!["ucUserId"]), S(c["userId"]), S(c["teams"]), S(c["ucStatus"]), string.Join("; ", c["writes"]!.AsArray().Select(S)) }));
}
