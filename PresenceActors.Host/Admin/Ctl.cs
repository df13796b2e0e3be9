using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PresenceActors.Host.Admin;

/// <summary>
/// The pbm-style command line over the admin endpoint (docs/operator-guide.md, "Command line (pbm style)"): `ctl cluster show`, `ctl sharding regions`,
/// `ctl presence user &lt;id|upn&gt;`, `ctl presence pool`, `ctl presence resync`, `ctl accounts add|remove`.
/// Plain text tables by default, the endpoint's JSON with --json.
/// </summary>
public static partial class Ctl
{
    public static Command Build(TextWriter output, TextWriter? errors = null)
    {
        var url = new Option<string>("--url") { Description = "admin endpoint", DefaultValueFactory = _ => "http://127.0.0.1:9110", Recursive = true };
        var token = new Option<string?>("--token") { Description = "presence.admin.token, when set", Recursive = true };
        var json = new Option<bool>("--json") { Description = "print the endpoint's JSON", Recursive = true };
        var ctl = new Command("ctl", "inspect and steer a running node over its admin endpoint") { url, token, json };

        Command Leaf(string name, string description, Func<ParseResult, (HttpMethod Method, string Path, object? Body)> request, Action<JsonNode, TextWriter> table, params Symbol[] symbols)
        {
            var command = new Command(name, description);
            foreach (var symbol in symbols)
            {
                if (symbol is Argument argument)
                    command.Arguments.Add(argument);
                else if (symbol is Option option)
                    command.Options.Add(option);
            }

            command.SetAction(async (parse, cancellationToken) =>
            {
                (HttpMethod Method, string Path, object? Body) call;
                try
                {
                    call = request(parse);
                }
                catch (CtlInputException e)
                {
                    await (errors ?? Console.Error).WriteLineAsync(e.Message);
                    return 2;
                }

                var (method, path, body) = call;
                return await CallAsync(parse.GetValue(url)!, parse.GetValue(token), method, path, body, parse.GetValue(json), table, output, errors ?? Console.Error, cancellationToken);
            });
            return command;
        }

        var userArgument = new Argument<string>("user") { Description = "UC user id, or Teams object id, UPN or mail" };
        var accountArgument = new Argument<string>("account") { Description = "technical user (UPN)" };
        var resyncUser = new Option<string?>("--user") { Description = "only this Teams user (object id)" };
        var address = new Option<string>("-a", "--address") { Description = "member address, akka.tcp://presence@host:4053", Required = true };
        var entity = new Option<string>("-e", "--entity") { Description = "entity id (the Teams object id)", Required = true };
        Action<JsonNode, TextWriter> message = (n, o) => o.WriteLine(n["message"]?.GetValue<string>());

        ctl.Subcommands.Add(new Command("cluster", "cluster membership")
        {
            Leaf("show", "members, status and roles", _ => (HttpMethod.Get, "/admin/cluster", null), ClusterTable),
            Leaf("leader", "the cluster leader", _ => (HttpMethod.Get, "/admin/cluster", null), (n, o) => o.WriteLine(n["leader"]?.GetValue<string>() ?? "(none)")),
            Leaf("leave", "the member leaves gracefully (its shards and singletons move first)",
                p => (HttpMethod.Post, "/admin/cluster/leave", new { address = p.GetValue(address) }), message, address),
            Leaf("down", "mark a member down (it is gone for good)",
                p => (HttpMethod.Post, "/admin/cluster/down", new { address = p.GetValue(address) }), message, address),
            Leaf("down-unreachable", "down every unreachable member", _ => (HttpMethod.Post, "/admin/cluster/down-unreachable", null), message),
            Tail(url, token, output, errors),
        });
        ctl.Subcommands.Add(new Command("sharding", "sharded regions")
        {
            Leaf("regions", "region names", _ => (HttpMethod.Get, "/admin/sharding/regions", null), (n, o) => { foreach (var r in n.AsArray()) o.WriteLine(r!.GetValue<string>()); }),
            Leaf("region-stats", "entities per shard on this node", _ => (HttpMethod.Get, "/admin/sharding/region-stats", null), RegionStatsTable),
            Leaf("locate", "where a user's entity lives",
                p => (HttpMethod.Get, $"/admin/sharding/locate?entity={Uri.EscapeDataString(p.GetValue(entity)!)}", null),
                (n, o) => o.WriteLine($"entity {S(n["entity"])} in shard {S(n["shard"])} at {S(n["region"])} (running: {S(n["running"])})"), entity),
        });
        ctl.Subcommands.Add(new Command("presence", "users and the subscription pool")
        {
            Leaf("user", "both sides of one user, prior and current, flags and recent transitions",
                p => (HttpMethod.Get, $"/admin/presence/users/{Uri.EscapeDataString(p.GetValue(userArgument)!)}", null), UserTable, userArgument),
            Leaf("pool", "technical accounts, users per account out of 650, subscriptions and health", _ => (HttpMethod.Get, "/admin/presence/pool", null), PoolTable),
            Leaf("opt-out", "leave a user out of the synchronisation (what is in progress is wound down first)",
                p => (HttpMethod.Post, "/admin/presence/sync", new { user = p.GetValue(userArgument), enabled = false }), message, userArgument),
            Leaf("opt-in", "synchronise a user left out again",
                p => (HttpMethod.Post, "/admin/presence/sync", new { user = p.GetValue(userArgument), enabled = true }), message, userArgument),
            Leaf("resync", "read presence in bulk now and check every subscription",
                p => (HttpMethod.Post, "/admin/presence/resync", new { user = p.GetValue(resyncUser) }),
                (n, o) => o.WriteLine(n["message"]?.GetValue<string>()), resyncUser),
        });
        ctl.Subcommands.Add(MappingCommand(Leaf, userArgument));
        ctl.Subcommands.Add(new Command("certificate", "the notification encryption certificate")
        {
            Leaf("show", "the current certificate's id and every id still accepted", _ => (HttpMethod.Get, "/admin/certificates", null),
                (n, o) => o.WriteLine($"current {S(n["current"])}; accepted {string.Join(", ", n["accepted"]!.AsArray().Select(S))}; rotatable {S(n["rotatable"])}")),
            Leaf("rotate", "make a new certificate for the whole cluster and renew every subscription with it (the old one is accepted 24 h more)",
                _ => (HttpMethod.Post, "/admin/certificates/rotate", null), message),
        });
        ctl.Subcommands.Add(new Command("accounts", "technical accounts")
        {
            Leaf("add", "add a technical account (its password must be in every node's configuration)",
                p => (HttpMethod.Post, "/admin/accounts/add", new { account = p.GetValue(accountArgument) }), (n, o) => o.WriteLine(n["message"]?.GetValue<string>()), accountArgument),
            Leaf("remove", "drain and remove a technical account",
                p => (HttpMethod.Post, "/admin/accounts/remove", new { account = p.GetValue(accountArgument) }), (n, o) => o.WriteLine(n["message"]?.GetValue<string>()), accountArgument),
        });
        return ctl;
    }

    /// <summary>`cluster tail`: streams membership events until stopped (or until --count lines).</summary>
    private static Command Tail(Option<string> url, Option<string?> token, TextWriter output, TextWriter? errors)
    {
        var count = new Option<int?>("--count") { Description = "stop after this many events" };
        var tail = new Command("tail", "stream membership and reachability events") { count };
        tail.SetAction(async (parse, cancellationToken) =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(parse.GetValue(url)!), Timeout = Timeout.InfiniteTimeSpan };
            if (parse.GetValue(token) is { } t)
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", t);
            try
            {
                await using var stream = await http.GetStreamAsync("/admin/cluster/tail", cancellationToken);
                using var reader = new StreamReader(stream);
                var left = parse.GetValue(count);
                while (left is null or > 0 && await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal))
                        continue;
                    output.WriteLine(line["data: ".Length..]);
                    left--;
                }

                return 0;
            }
            catch (HttpRequestException e)
            {
                await (errors ?? Console.Error).WriteLineAsync($"Cannot reach the admin endpoint at {parse.GetValue(url)}: {e.Message}");
                return 3;
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
        });
        return tail;
    }

    private static async Task<int> CallAsync(string baseUrl, string? token, HttpMethod method, string path, object? parameters, bool json,
        Action<JsonNode, TextWriter> table, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(20) };
        if (token is not null)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        HttpResponseMessage response;
        try
        {
            // An action's parameters go in its JSON body, with the header that tells the node a browser page of another
            // site did not send it (AdminAccess).
            using var request = new HttpRequestMessage(method, path);
            if (method != HttpMethod.Get)
            {
                request.Headers.Add(AdminAccess.CsrfHeader, "ctl");
                request.Content = System.Net.Http.Json.JsonContent.Create(parameters ?? new { });
            }

            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            await errors.WriteLineAsync($"Cannot reach the admin endpoint at {baseUrl}: {e.Message}. Is the node running? (--url)");
            return 3;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var parsed = TryParse(body);
                var detail = parsed?["detail"]?.GetValue<string>()
                             ?? (parsed?["problems"] is JsonArray problems ? string.Join(Environment.NewLine + "  ", problems.Select(S).Prepend("")) : body);
                await errors.WriteLineAsync($"{(int)response.StatusCode} {response.ReasonPhrase}: {detail}");
                return 1;
            }

            var node = TryParse(body) ?? new JsonObject();
            if (json)
                output.WriteLine(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else
                table(node, output);
            return 0;
        }
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

    private static void ClusterTable(JsonNode node, TextWriter output)
    {
        var members = node["members"]!.AsArray();
        Table(output, ["address", "status", "age", "roles", "reachable"],
            members.Select(m => new[] { S(m!["address"]), S(m["status"]), S(m["age"]), string.Join(",", m["roles"]!.AsArray().Select(r => S(r))), S(m["reachable"]) }));
        output.WriteLine($"Count: {members.Count} node(s); leader {S(node["leader"])}; oldest (runs the singletons) {S(node["oldest"])}");
    }

    private static void RegionStatsTable(JsonNode node, TextWriter output) =>
        Table(output, ["shard", "entities"], node["shards"]!.AsObject().Select(s => new[] { s.Key, S(s.Value) }));

    private static void UserTable(JsonNode node, TextWriter output)
    {
        var u = node["user"]!;
        Table(output, ["", "value"],
        [
            ["UC user", S(u["ucUserId"])],
            ["Teams user", $"{S(u["userPrincipalName"])} ({S(u["teamsUserId"])})"],
            ["technical account", S(node["technicalAccount"])],
            ["Teams presence", $"{S(u["teamsAvailability"])}/{S(u["teamsActivity"])} (sequence {S(u["teamsSequenceNumber"])})"],
            ["UC status", $"{S(u["ucStatus"])} (prior {S(u["ucPriorStatus"])})"],
            ["Teams call / UC call", $"{S(u["teamsCallActive"])} / {S(u["ucCallActive"])}"],
            ["restore pending", S(u["restorePending"])],
            ["synchronised", S(u["synchronised"])],
            ["our session until", S(u["sessionExpiresAt"])],
            ["UC updates sent / acknowledged", $"{S(u["lastUcSequence"])} / {S(u["lastUcAcknowledged"])}"],
        ]);
        output.WriteLine();
        Table(output, ["at", "rule", "what"], u["history"]!.AsArray().Select(h => new[] { S(h!["at"]), S(h["rule"]), S(h["detail"]) }));
    }

    private static void PoolTable(JsonNode node, TextWriter output)
    {
        Table(output, ["account", "users", "subscribed", "subscription", "expires", "health"],
            node["accounts"]!.AsArray().Select(a => new[]
            {
                S(a!["account"]), $"{S(a["users"])}/{S(a["capacity"])}", S(a["subscribedUsers"]), S(a["subscriptionId"]), S(a["expiresAt"]),
                a["healthy"]!.GetValue<bool>() ? (a["draining"]!.GetValue<bool>() ? "draining" : "ok") : $"UNHEALTHY: {S(a["problem"])}",
            }));
        output.WriteLine($"watched {S(node["watchedUsers"])}, unwatched {S(node["unwatchedUsers"])}");
        var sample = node["unwatchedSample"]!.AsArray();
        if (sample.Count > 0)
            output.WriteLine($"unwatched (first {sample.Count}): {string.Join(", ", sample.Select(s => S(s)))}");
    }

    private static string S(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    private static void Table(TextWriter output, string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        output.WriteLine(string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        output.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var row in all)
            output.WriteLine(string.Join(" | ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
    }
}
