using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Graph;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using PresenceActors.Webhooks;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Host.UcApi;

/// <summary>
/// The internal API the OpenScape UC back end calls (its GraphConnectorURL; docs/operator-guide.md describes the calls): register and remove users,
/// reconcile the full list, read a user's state, report UC status and phone calls (one user, or all of them to reconcile:
/// UcApiEndpoints.Reports.cs). Every call needs the bearer key.
/// </summary>
public static partial class UcApiEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Body limits, each endpoint its own: one user's registration or report, and the full lists.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>A full list: 128 MiB, about 1.5 million users of ordinary ids (docs/scale.md).</summary>
    public const long MaxListBytes = 128L * 1024 * 1024;

    /// <summary>Lets this request's body be as long as <paramref name="maxBytes"/> (Kestrel's own limit is 30 MB).</summary>
    internal static void AllowBody(HttpContext context, long maxBytes)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = maxBytes;
    }

    /// <summary>Users of a full list reported (PUT /reports) handled at the same time.</summary>
    private const int ReconcileParallelism = 64;

    /// <summary>Messages of a full list (PUT /users) to the registry at the same time, each of thousands of mappings.</summary>
    private const int BulkParallelism = 4;

    /// <summary>What one of those messages may weigh at worst (hocon/cluster.hocon allows frames of 4 MiB).</summary>
    private const int BulkMessageBytes = 1_000_000;

    /// <summary>A message of thousands of mappings waits for their write, behind up to <see cref="BulkParallelism"/> others.</summary>
    private static readonly TimeSpan BulkAskTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How far a UC report's own timestamp may be from this node's clock.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromHours(24);

    public static IEndpointRouteBuilder MapUcApi(this IEndpointRouteBuilder endpoints, string apiKey, IReadOnlyList<string>? clientCertificates = null)
    {
        var expected = Encoding.UTF8.GetBytes($"Bearer {apiKey}");
        var pinned = (clientCertificates ?? []).Select(t => t.ToUpperInvariant()).ToHashSet();
        var api = endpoints.MapGroup("/api/v1").AddEndpointFilter(async (context, next) =>
        {
            if (pinned.Count > 0)
            {
                // Mutual TLS: the UC back end's certificate, pinned by its SHA-256 thumbprint, as well as the key.
                var certificate = context.HttpContext.Connection.ClientCertificate
                                  ?? await context.HttpContext.Connection.GetClientCertificateAsync(context.HttpContext.RequestAborted);
                if (certificate is null)
                    return Problem(401, "client certificate", "This internal API requires the UC back end's client certificate (presence.api.clientCertificates).");
                var thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
                if (!pinned.Contains(thumbprint))
                    return Problem(401, "client certificate", $"Client certificate {thumbprint} is not one of presence.api.clientCertificates.");
            }

            var presented = Encoding.UTF8.GetBytes(context.HttpContext.Request.Headers.Authorization.ToString());
            if (!CryptographicOperations.FixedTimeEquals(presented, expected))
            {
                return Problem(401, "Authorization", "Send 'Authorization: Bearer <key>' with the internal API key configured for this service.");
            }

            // Cut off with a minority of the cluster, this node takes nothing in (ClusterQuorum): the users' actors here may
            // be started on the other side any moment. The UC back end sends it again (to another node when a balancer
            // that checks /healthz/ready fronts the API).
            if (!context.HttpContext.RequestServices.GetRequiredService<PresenceActors.Cluster.ClusterQuorum>().Held)
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return Problem(503, "cluster", "This node sees no more than half of the cluster's members (a network partition, or the cluster forming); send it again, to another node.");
            }

            return await next(context);
        });

        api.MapPut("/users/{ucUserId}", RegisterOne);
        api.MapDelete("/users/{ucUserId}", async (string ucUserId, IRequiredActor<UserRegistryKey> registry) =>
        {
            var removed = await registry.ActorRef.Ask<LookupResult>(new Unregister(ucUserId), AskTimeout);
            return removed.Mapping is null ? Problem(404, "ucUserId", $"UC user '{ucUserId}' is not registered.") : Results.NoContent();
        });
        api.MapPut("/users", ReconcileAll);
        api.MapGet("/users/{ucUserId}", async (string ucUserId, IRequiredActor<UserRegistryKey> registry, IRequiredActor<UserPresenceRegion> users) =>
        {
            var mapping = (await registry.ActorRef.Ask<LookupResult>(new Lookup(ucUserId), AskTimeout)).Mapping;
            if (mapping is null)
                return Problem(404, "ucUserId", $"UC user '{ucUserId}' is not registered.");
            var snapshot = await users.ActorRef.AskSnapshotAsync(mapping.TeamsUserId, AskTimeout);
            var sync = await registry.ActorRef.Ask<SyncSetting>(new GetSynchronised(ucUserId), AskTimeout);
            return Results.Json(UserView.From(mapping, snapshot, sync.Synchronised));
        });
        api.MapPost("/users/{ucUserId}/presence", ReportPresence);
        api.MapPost("/presence", ReportAll);
        api.MapSyncSetting();
        return endpoints;
    }

    private static async Task<IResult> RegisterOne(string ucUserId, HttpContext context, IUserDirectory directory,
        IRequiredActor<UserRegistryKey> registry, IRequiredActor<SubscriptionPoolKey> pool)
    {
        var body = await JsonRequest.ReadAsync<RegistrationRequest>(context, MaxBodyBytes);
        if (body.Problem is not null)
            return body.Problem;
        var (result, problem) = await Register(ucUserId, body.Value!.TeamsUser!, directory, registry.ActorRef, context.RequestAborted, relink: true);
        if (problem is not null)
            return problem;
        var assignment = await pool.ActorRef.Ask<SubscriptionPoolCommands.Assignment>(
            new SubscriptionPoolCommands.GetAssignment(result!.Mapping.TeamsUserId), AskTimeout);
        return Results.Json(new
        {
            ucUserId = result.Mapping.UcUserId,
            teamsUserId = result.Mapping.TeamsUserId,
            userPrincipalName = result.Mapping.UserPrincipalName,
            technicalAccount = assignment.Account,
            outcome = result.Outcome.ToString(),
        });
    }

    /// <summary>Why this pair cannot be registered as it is written, before anything is asked; null when it can.</summary>
    private static IResult? InputProblem(string ucUserId, string teamsUser)
    {
        if (string.IsNullOrWhiteSpace(ucUserId) || ucUserId.Length > 256 || ucUserId.Any(char.IsControl))
            return Problem(400, "ucUserId", "ucUserId must be 1 to 256 characters without control characters.");
        // An object id, a user principal name or a mail address: what Graph can look up, and nothing it would refuse.
        if (teamsUser.Length > 256 || teamsUser.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) || teamsUser.IndexOfAny(['/', '\\', '?', '#', '%', '\'', '"']) >= 0)
            return Problem(400, "teamsUser", "teamsUser must be an Entra object id, user principal name or mail address (at most 256 characters, no spaces, quotes or / \\ ? # %).");
        return null;
    }

    private static IResult GraphUnreachable(string teamsUser, Exception e) =>
        Problem(503, "teamsUser", $"Microsoft Graph could not be asked for '{teamsUser}': {e.Message}. Try again; run `doctor` if it persists.");

    private static async Task<(RegisterResult? Result, IResult? Problem)> Register(
        string ucUserId, string teamsUser, IUserDirectory directory, IActorRef registry, CancellationToken cancellationToken, bool relink = false)
    {
        if (InputProblem(ucUserId, teamsUser) is { } invalid)
            return (null, invalid);
        DirectoryUser? user;
        try
        {
            user = await directory.ResolveAsync(teamsUser, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (null, GraphUnreachable(teamsUser, e));
        }

        if (user is null)
            return (null, NotInDirectory(teamsUser));
        var result = await registry.Ask<RegisterResult>(new Register(new UserMapping(ucUserId, user.Id, user.UserPrincipalName), relink), AskTimeout);
        if (result.Outcome == RegistrationOutcome.Conflict)
            return (result, Conflict(user.UserPrincipalName, result.ConflictingUcUserId));
        return (result, null);
    }

    private static IResult NotInDirectory(string teamsUser) =>
        Problem(404, "teamsUser", $"No Entra ID user '{teamsUser}' (tried object id, user principal name and mail).");

    private static IResult Conflict(string userPrincipalName, string? mappedTo) =>
        Problem(409, "teamsUser", $"Teams user '{userPrincipalName}' is already mapped to UC user '{mappedTo}'; remove that mapping first.");

    private static async Task<IResult> ReconcileAll(HttpContext context, IUserDirectory directory, IRequiredActor<UserRegistryKey> registry, ActorSystem system)
    {
        AllowBody(context, MaxListBytes);
        var body = await JsonRequest.ReadListAsync<RegistrationEntry>(context, MaxListBytes);
        if (body.Problem is not null)
            return body.Problem;
        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (entry, index) in body.Value!.Select((e, i) => (e, i)))
        {
            if (!wanted.TryAdd(entry.UcUserId!, entry.TeamsUser!))
                return Problem(400, $"[{index}].ucUserId", $"ucUserId '{entry.UcUserId}' appears more than once.");
        }

        var existing = (await registry.ActorRef.AllMappingsAsync(AskTimeout)).ToArray();
        // A full list can name a million users: they are looked up in bulk, then registered thousands per message
        // (docs/scale.md, "Registrations in batches"), a few at a time: the registry journals what arrives together in
        // one write. Until every node understands those messages (a rolling upgrade: PresenceActors.Cluster.Capabilities),
        // one message per user, as the previous release's registry expects, many at a time.
        var batches = PresenceActors.Cluster.Capabilities.EveryMember(system, PresenceActors.Cluster.Capabilities.RegistryBatches);
        var perMessage = batches ? RegisterMany.RegisterManyAtOnce : 1;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = batches ? BulkParallelism : ReconcileParallelism, CancellationToken = context.RequestAborted };
        var stale = existing.Where(m => !wanted.ContainsKey(m.UcUserId)).ToArray();
        // A list that would remove more than half of the registrations (all of them, for an empty list) is refused unless
        // the caller confirms how many: a UC back end that sends a truncated list by mistake must not unwatch everyone.
        // Nothing is changed then; the answer says what would be removed.
        if (stale.Length > 0 && stale.Length * 2 > existing.Length
            && !(int.TryParse(context.Request.Query["confirmRemoval"], CultureInfo.InvariantCulture, out var confirmed) && confirmed == stale.Length))
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Problem with confirmRemoval",
                detail: $"This list would remove {stale.Length} of the {existing.Length} registered users. Nothing was changed. " +
                        $"If that is meant, send the same list with ?confirmRemoval={stale.Length}.",
                extensions: new Dictionary<string, object?>
                {
                    ["field"] = "confirmRemoval",
                    ["wouldRemove"] = stale.Length,
                    ["registered"] = existing.Length,
                    ["sample"] = stale.Select(m => m.UcUserId).Order(StringComparer.Ordinal).Take(50).ToArray(),
                });
        }

        // The users are looked up in bulk (300 per round trip to Graph, within the directory's limits), then registered;
        // first, so that a list Graph cannot be asked about changes nothing.
        IReadOnlyDictionary<string, DirectoryUser> resolved;
        var lookups = wanted.Where(w => InputProblem(w.Key, w.Value) is null).Select(w => w.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        try
        {
            resolved = await directory.ResolveManyAsync(lookups, context.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return GraphUnreachable($"{lookups.Count} users", e);
        }

        await Parallel.ForEachAsync(RegistryPages.Chunks(stale.Select(m => m.UcUserId), RegistryPages.Escaped, BulkMessageBytes, perMessage),
            parallel, async (chunk, cancellationToken) =>
            {
                if (batches)
                    await registry.ActorRef.Ask<UnregisteredMany>(new UnregisterMany([.. chunk]), BulkAskTimeout, cancellationToken);
                else
                    await registry.ActorRef.Ask<LookupResult>(new Unregister(chunk[0]), AskTimeout, cancellationToken);
            });
        var removed = stale.Select(m => m.UcUserId).ToList();

        var outcomes = new (RegisterResult? Result, IResult? Problem)[wanted.Count];
        var items = wanted.Select((w, i) => (Index: i, Uc: w.Key, Teams: w.Value)).ToArray();
        var found = new List<(int Index, UserMapping Mapping)>();
        foreach (var item in items)
        {
            if (InputProblem(item.Uc, item.Teams) is { } invalid)
                outcomes[item.Index] = (null, invalid);
            else if (resolved.GetValueOrDefault(item.Teams) is not { } user)
                outcomes[item.Index] = (null, NotInDirectory(item.Teams));
            else
                found.Add((item.Index, new UserMapping(item.Uc, user.Id, user.UserPrincipalName)));
        }

        await Parallel.ForEachAsync(RegistryPages.Chunks(found, f => RegistryPages.Weight(f.Mapping), BulkMessageBytes, perMessage),
            parallel, async (chunk, cancellationToken) =>
            {
                RegisteredMany answer;
                if (batches)
                {
                    answer = await registry.ActorRef.Ask<RegisteredMany>(new RegisterMany([.. chunk.Select(c => c.Mapping)]), BulkAskTimeout, cancellationToken);
                }
                else
                {
                    var one = await registry.ActorRef.Ask<RegisterResult>(new Register(chunk[0].Mapping, Relink: false), AskTimeout, cancellationToken);
                    answer = new RegisteredMany([one.Outcome], [one.ConflictingUcUserId]);
                }
                for (var i = 0; i < chunk.Length; i++)
                {
                    var (index, mapping) = chunk[i];
                    var result = new RegisterResult(answer.Outcomes[i], mapping, answer.ConflictingUcUserIds[i]);
                    outcomes[index] = (result, result.Outcome == RegistrationOutcome.Conflict ? Conflict(mapping.UserPrincipalName, result.ConflictingUcUserId) : null);
                }
            });

        var added = new List<string>();
        var unchanged = new List<string>();
        var failures = new List<object>();
        foreach (var item in items)
        {
            var (result, problem) = outcomes[item.Index];
            if (problem is not null || result is null)
                failures.Add(new { ucUserId = item.Uc, teamsUser = item.Teams, error = ProblemText(problem) });
            else if (result.Outcome == RegistrationOutcome.Unchanged)
                unchanged.Add(item.Uc);
            else
                added.Add(item.Uc);
        }

        return Results.Json(new { added, unchanged, removed, failures });
    }

    private static string ProblemText(IResult? problem) =>
        problem is IValueHttpResult { Value: Microsoft.AspNetCore.Mvc.ProblemDetails details } ? details.Detail ?? details.Title ?? "failed" : "failed";

    internal static IResult Problem(int status, string field, string detail) => HttpProblem.Of(status, field, detail);

    /// <summary>A user's full presence state for the UC back end and operators.</summary>
    public sealed record UserView(
        string UcUserId,
        string TeamsUserId,
        string UserPrincipalName,
        string? TeamsAvailability,
        string? TeamsActivity,
        string? TeamsSequenceNumber,
        string? UcStatus,
        string? UcPriorStatus,
        bool TeamsCallActive,
        bool UcCallActive,
        bool RestorePending,
        DateTimeOffset? SessionExpiresAt,
        long LastUcSequence,
        long LastUcAcknowledged,
        IReadOnlyList<PresenceTransition> History,
        bool Synchronised)
    {
        /// <param name="synchronised">False when an operator left the user out (docs/mapping.md, "Leaving a user out").</param>
        public static UserView From(UserMapping mapping, UserPresenceSnapshot user, bool synchronised = true) => new(
            mapping.UcUserId, mapping.TeamsUserId, mapping.UserPrincipalName,
            user.TeamsAvailability, user.TeamsActivity, user.TeamsSequenceNumber,
            user.UcStatus, user.UcPriorStatus, user.TeamsCallActive, user.UcCallActive, user.RestorePending,
            user.SessionExpiresAt, user.LastUcSequence, user.LastUcAcknowledged, user.History, synchronised);
    }
}
