using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PresenceActors.Simulators.Graph;

/// <summary>
/// The directory as Graph serves it to a bulk look-up (docs/graph-api.md, section 9): users filtered by
/// <c>eq</c> and <c>in</c> (at most 15 values in one filter), JSON batching (at most 20 requests, each one throttled and
/// answered on its own), and each request's cost in resource units.
/// </summary>
internal static partial class GraphEndpoints
{
    /// <summary>Graph's limit of values in one filter clause (its <c>in</c> list and <c>or</c>-joined equalities).</summary>
    public const int MaxFilterValues = 15;

    /// <summary>Graph's limit of requests in one JSON batch.</summary>
    public const int MaxBatchRequests = 20;

    [GeneratedRegex(@"^\s*(?<property>\w+)\s+eq\s+'(?<value>(?:[^']|'')*)'\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex EqualsFilter();

    [GeneratedRegex(@"^\s*(?<property>\w+)\s+in\s+\((?<values>.*)\)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex InFilter();

    [GeneratedRegex(@"\s*'(?<value>(?:[^']|'')*)'\s*(,|$)")]
    private static partial Regex QuotedValue();

    private static IResult ListUsers(GraphSimulator sim, string filter)
    {
        IEnumerable<SimUser> users;
        if (string.IsNullOrWhiteSpace(filter))
        {
            users = sim.Tenant.Users();
        }
        else
        {
            var wanted = new List<(string Property, string Value)>();
            foreach (var clause in Regex.Split(filter, @"\s+or\s+", RegexOptions.IgnoreCase))
            {
                if (EqualsFilter().Match(clause) is { Success: true } equals)
                {
                    wanted.Add((equals.Groups["property"].Value, equals.Groups["value"].Value.Replace("''", "'")));
                    continue;
                }

                if (InFilter().Match(clause) is not { Success: true } list)
                    throw new SimGraphError(400, "Request_UnsupportedQuery", $"Unsupported or invalid query filter clause: '{clause}'.");
                var values = QuotedValue().Matches(list.Groups["values"].Value);
                if (values.Count == 0)
                    throw new SimGraphError(400, "Request_UnsupportedQuery", $"Unsupported or invalid query filter clause: '{clause}'.");
                wanted.AddRange(values.Select(v => (list.Groups["property"].Value, v.Groups["value"].Value.Replace("''", "'"))));
            }

            if (wanted.Count > MaxFilterValues)
                throw new SimGraphError(400, "Request_UnsupportedQuery",
                    $"Too many child clauses specified in search filter expression containing 'OR' operators: {wanted.Count}. Max allowed: {MaxFilterValues}.");
            users = wanted.GroupBy(w => w.Property, StringComparer.OrdinalIgnoreCase)
                .SelectMany(g => sim.Tenant.FilterUsers(g.Key, g.Select(w => w.Value)))
                .DistinctBy(u => u.Id);
        }

        return Results.Json(new JsonObject { ["value"] = new JsonArray(users.Select(u => (JsonNode)UserJson(u)).ToArray()) });
    }

    /// <summary>
    /// What a directory request costs in resource units (Graph's identity and access throttling): a list of users 2, any
    /// other directory read 1; <c>$select</c> takes 1 off, <c>$expand</c> adds 1, <c>$top</c> under 20 takes 1 off; never
    /// less than 1.
    /// </summary>
    public static int ResourceUnits(string api, IQueryCollection query)
    {
        var cost = api == "users.list" ? 2 : 1;
        if (query.ContainsKey("$select"))
            cost--;
        if (query.ContainsKey("$expand"))
            cost++;
        if (int.TryParse(query["$top"], out var top) && top < 20)
            cost--;
        return Math.Max(1, cost);
    }

    /// <summary>
    /// JSON batching: each request of the batch goes through the simulator's own pipeline (its own authentication, faults,
    /// throttling and call log), and its answer is returned in the batch's body; the batch itself answers 200.
    /// </summary>
    private static async Task<IResult> BatchAsync(GraphSimulator sim, HttpContext context)
    {
        var body = await ReadBody(context);
        if (body["requests"] is not JsonArray requests || requests.Count == 0)
            throw new SimGraphError(400, "BadRequest", "The batch must contain 'requests'.");
        if (requests.Count > MaxBatchRequests)
            throw new SimGraphError(400, "BadRequest", $"The batch holds {requests.Count} requests; at most {MaxBatchRequests} are allowed.");

        var authorization = context.Request.Headers.Authorization.ToString();
        var answers = await Task.WhenAll(requests.Select(async node =>
        {
            var request = node as JsonObject ?? throw new SimGraphError(400, "BadRequest", "Each batch request must be an object.");
            var id = request["id"]?.GetValue<string>() ?? throw new SimGraphError(400, "BadRequest", "Each batch request needs an 'id'.");
            var method = request["method"]?.GetValue<string>() ?? "GET";
            var url = request["url"]?.GetValue<string>() ?? throw new SimGraphError(400, "BadRequest", $"Batch request '{id}' has no 'url'.");
            using var message = new HttpRequestMessage(new HttpMethod(method), new Uri(sim.GraphUrl, url.TrimStart('/')));
            message.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
            if (request["body"] is { } inner)
                message.Content = new StringContent(inner.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await sim.Self.SendAsync(message, context.RequestAborted);
            var headers = new JsonObject();
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (name is "Retry-After" or "Content-Type" || name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                    headers[name] = string.Join(",", values);
            }

            var text = await response.Content.ReadAsStringAsync(context.RequestAborted);
            return (JsonNode)new JsonObject
            {
                ["id"] = id,
                ["status"] = (int)response.StatusCode,
                ["headers"] = headers,
                ["body"] = text.Length == 0 ? null : JsonNode.Parse(text),
            };
        }));
        return Results.Json(new JsonObject { ["responses"] = new JsonArray(answers) });
    }
}
