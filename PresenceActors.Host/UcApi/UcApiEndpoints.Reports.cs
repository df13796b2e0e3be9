using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Registration;
using PresenceActors.Users;
using PresenceActors.Webhooks;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Host.UcApi;

/// <summary>
/// UC status reports: one user's change as it happens, and every user's current status at once, which the UC back end
/// sends after its own restart or on a schedule to reconcile (docs/operator-guide.md, "Reverse proxy (HAProxy)", where
/// the internal API's calls are described): a call whose end
/// report was lost ends then, instead of holding Teams busy until <c>presence.uc.maxCallLength</c>.
/// </summary>
public static partial class UcApiEndpoints
{
    private sealed record Report(string Status, bool OnPhone, DateTimeOffset At);

    /// <summary>Reads status, onPhone and at (optional) of one report; the problem names the field, with <paramref name="prefix"/>.</summary>
    /// <param name="requireAt">A list of everyone's status must say when each was read: stamped on arrival, a list
    /// built before a user's own later report would overrule it.</param>
    private static IResult? ReadReport(JsonElement item, string prefix, DateTimeOffset now, out Report? report, bool requireAt = false)
    {
        report = null;
        if (!TryString(item, "status", out var status, out var error, $"{prefix}status"))
            return error!;
        if (status!.Length > 100)
            return Problem(400, $"{prefix}status", "status must be at most 100 characters.");
        if (!item.TryGetProperty("onPhone", out var onPhone) || onPhone.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            return Problem(400, $"{prefix}onPhone", "onPhone is required and must be true or false.");
        var at = now;
        if (requireAt && !item.TryGetProperty("at", out _))
            return Problem(400, $"{prefix}at", "at is required in a list: when the UC back end read this status (ISO 8601).");
        if (item.TryGetProperty("at", out var atValue))
        {
            if (atValue.ValueKind != JsonValueKind.String
                || !DateTimeOffset.TryParse(atValue.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out at))
                return Problem(400, $"{prefix}at", "at must be an ISO 8601 timestamp, e.g. 2026-11-26T09:30:00Z.");
            // A report stamped far from now is a broken clock: taken as given, one from the future would make every
            // later report look older and be ignored, leaving the user stuck.
            if ((at - now).Duration() > MaxClockSkew)
                return Problem(400, $"{prefix}at", $"at is {at:O}, more than {MaxClockSkew.TotalHours:0} hours from this node's clock ({now:O}); check the UC back end's time.");
        }

        report = new Report(status, onPhone.GetBoolean(), at);
        return null;
    }

    private static async Task<IResult> ReportPresence(string ucUserId, HttpContext context, TimeProvider clock,
        IRequiredActor<UserRegistryKey> registry, IRequiredActor<UserPresenceRegion> users, WebhookFlowOptions flow)
    {
        var body = await ReadObject(context);
        if (body.Error is not null)
            return body.Error;
        if (ReadReport(body.Root, "", clock.GetUtcNow(), out var report) is { } invalid)
            return invalid;

        var mapping = (await registry.ActorRef.Ask<LookupResult>(new Lookup(ucUserId), AskTimeout)).Mapping;
        if (mapping is null)
            return Problem(404, "ucUserId", $"UC user '{ucUserId}' is not registered; PUT /api/v1/users/{ucUserId} first.");
        // 202 only once the user's actor has journaled the report: otherwise 503, and the UC back end sends it again.
        if (!await TakenAsync(users.ActorRef, mapping, report!, flow))
        {
            context.Response.Headers.RetryAfter = "2";
            return Problem(503, "ucUserId", $"The report for '{ucUserId}' was not confirmed within {flow.AckTimeout.TotalSeconds:0.#} s (the service is busy or moving this user to another node); send it again.");
        }

        return Results.Accepted();
    }

    /// <summary>
    /// POST /api/v1/presence: a JSON array of {"ucUserId","status","onPhone","at"}, every user's current status. Each
    /// is taken as a report of its own (an older one than the user's last is ignored, as always). The answer lists what
    /// was taken, who is not registered, and what was not confirmed in time (send those again); nothing is dropped unsaid.
    /// </summary>
    private static async Task<IResult> ReportAll(HttpContext context, TimeProvider clock,
        IRequiredActor<UserRegistryKey> registry, IRequiredActor<UserPresenceRegion> users, WebhookFlowOptions flow)
    {
        var body = await ReadJson(context);
        if (body.Error is not null)
            return body.Error;
        if (body.Root.ValueKind != JsonValueKind.Array)
            return Problem(400, "body", "The body must be a JSON array of {\"ucUserId\", \"status\", \"onPhone\", \"at\"} objects.");

        var now = clock.GetUtcNow();
        var reports = new List<(string UcUserId, Report Report)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in body.Root.EnumerateArray())
        {
            var prefix = $"[{index}].";
            if (item.ValueKind != JsonValueKind.Object)
                return Problem(400, $"[{index}]", "Each report must be an object.");
            if (!TryString(item, "ucUserId", out var ucUserId, out var error, $"{prefix}ucUserId"))
                return error!;
            if (!seen.Add(ucUserId!))
                return Problem(400, $"{prefix}ucUserId", $"ucUserId '{ucUserId}' appears more than once.");
            if (ReadReport(item, prefix, now, out var report, requireAt: true) is { } invalid)
                return invalid;
            reports.Add((ucUserId!, report!));
            index++;
        }

        var mappings = (await registry.ActorRef.Ask<MappingList>(new ListMappings(), AskTimeout)).Mappings.ToDictionary(m => m.UcUserId, StringComparer.Ordinal);
        var notRegistered = reports.Where(r => !mappings.ContainsKey(r.UcUserId)).Select(r => r.UcUserId).ToList();
        var registered = reports.Where(r => mappings.ContainsKey(r.UcUserId)).ToArray();
        var taken = new bool[registered.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, registered.Length),
            new ParallelOptions { MaxDegreeOfParallelism = ReconcileParallelism, CancellationToken = context.RequestAborted },
            async (i, _) => taken[i] = await TakenAsync(users.ActorRef, mappings[registered[i].UcUserId], registered[i].Report, flow));
        var notTaken = registered.Where((_, i) => !taken[i]).Select(r => r.UcUserId).ToList();
        if (notTaken.Count > 0)
            context.Response.Headers.RetryAfter = "2";
        return Results.Json(new { taken = taken.Count(t => t), notRegistered, notTaken });
    }

    private static async Task<bool> TakenAsync(IActorRef users, UserMapping mapping, Report report, WebhookFlowOptions flow)
    {
        try
        {
            await users.Ask<UserPresenceCommands.Taken>(
                new UserPresenceCommands.ReportUcPresence(mapping.TeamsUserId, report.Status, report.OnPhone, report.At, Acknowledge: true,
                    PresenceTracing.CurrentTraceParent), flow.AckTimeout);
            return true;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }
}
