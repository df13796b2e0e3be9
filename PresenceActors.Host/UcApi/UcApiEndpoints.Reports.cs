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

    /// <summary>
    /// When the report was read: its own timestamp, or its arrival. A report stamped far from now is a broken clock:
    /// taken as given, one from the future would make every later report look older and be ignored, leaving the user stuck.
    /// </summary>
    private static IResult? ReportedAt(DateTimeOffset? at, string field, DateTimeOffset now, out DateTimeOffset value)
    {
        value = at ?? now;
        return (value - now).Duration() > MaxClockSkew
            ? Problem(400, field, $"at is {value:O}, more than {MaxClockSkew.TotalHours:0} hours from this node's clock ({now:O}); check the UC back end's time.")
            : null;
    }

    private static async Task<IResult> ReportPresence(string ucUserId, HttpContext context, TimeProvider clock,
        IRequiredActor<UserRegistryKey> registry, IRequiredActor<UserPresenceRegion> users, WebhookFlowOptions flow)
    {
        var body = await JsonRequest.ReadAsync<PresenceReport>(context, MaxBodyBytes);
        if (body.Problem is not null)
            return body.Problem;
        if (ReportedAt(body.Value!.At, "at", clock.GetUtcNow(), out var at) is { } skewed)
            return skewed;
        var report = new Report(body.Value.Status!, body.Value.OnPhone!.Value, at);

        var lookup = await registry.ActorRef.Ask<LookupResult>(new Lookup(ucUserId), AskTimeout);
        var mapping = lookup.Mapping;
        if (mapping is null)
            return Problem(404, "ucUserId", $"UC user '{ucUserId}' is not registered; PUT /api/v1/users/{ucUserId} first.");
        // 202 only once the user's actor has journaled the report: otherwise 503, and the UC back end sends it again.
        if (!await TakenAsync(users.ActorRef, mapping, report, flow, linkFirst: lookup.Synchronised))
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
        AllowBody(context, MaxListBytes);
        var body = await JsonRequest.ReadListAsync<PresenceListEntry>(context, MaxListBytes);
        if (body.Problem is not null)
            return body.Problem;
        var now = clock.GetUtcNow();
        var reports = new List<(string UcUserId, Report Report)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (entry, index) in body.Value!.Select((e, i) => (e, i)))
        {
            if (!seen.Add(entry.UcUserId!))
                return Problem(400, $"[{index}].ucUserId", $"ucUserId '{entry.UcUserId}' appears more than once.");
            if (ReportedAt(entry.At, $"[{index}].at", now, out var at) is { } skewed)
                return skewed;
            reports.Add((entry.UcUserId!, new Report(entry.Status!, entry.OnPhone!.Value, at)));
        }

        var mappings = (await registry.ActorRef.AllMappingsAsync(AskTimeout)).ToDictionary(m => m.UcUserId, StringComparer.Ordinal);
        // Left-out users are not linked by their report (their actors ask the registry, which tells them no link).
        var optedOut = (await registry.ActorRef.Ask<OptedOutUsers>(new ListOptedOut(), AskTimeout)).UcUserIds.ToHashSet(StringComparer.Ordinal);
        var notRegistered = reports.Where(r => !mappings.ContainsKey(r.UcUserId)).Select(r => r.UcUserId).ToList();
        var registered = reports.Where(r => mappings.ContainsKey(r.UcUserId)).ToArray();
        var taken = new bool[registered.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, registered.Length),
            new ParallelOptions { MaxDegreeOfParallelism = ReconcileParallelism, CancellationToken = context.RequestAborted },
            async (i, _) => taken[i] = await TakenAsync(users.ActorRef, mappings[registered[i].UcUserId], registered[i].Report, flow,
                linkFirst: !optedOut.Contains(registered[i].UcUserId)));
        var notTaken = registered.Where((_, i) => !taken[i]).Select(r => r.UcUserId).ToList();
        if (notTaken.Count > 0)
            context.Response.Headers.RetryAfter = "2";
        return Results.Json(new { taken = taken.Count(t => t), notRegistered, notTaken });
    }

    /// <param name="linkFirst">The user is synchronised: an actor not linked yet links itself to the mapping's UC user
    /// first (docs/scale.md, "Lazy user actors"); otherwise it asks the registry.</param>
    private static async Task<bool> TakenAsync(IActorRef users, UserMapping mapping, Report report, WebhookFlowOptions flow, bool linkFirst = false)
    {
        try
        {
            await users.Ask<UserPresenceCommands.Taken>(
                new UserPresenceCommands.ReportUcPresence(mapping.TeamsUserId, report.Status, report.OnPhone, report.At, Acknowledge: true,
                    PresenceTracing.CurrentTraceParent, linkFirst ? mapping.UcUserId : null), flow.AckTimeout);
            return true;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }
}
