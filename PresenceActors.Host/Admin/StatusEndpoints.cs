using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Graph;
using PresenceActors.Host.Sandbox;
using PresenceActors.Host.UcApi;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.UcFrontEnd;
using PresenceActors.Users;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Admin;

/// <summary>
/// The status page on the admin port (<c>/status</c>) and the read-only JSON it draws from (<c>/admin/status/*</c>,
/// behind the admin endpoint's loopback and token checks). In sandbox mode the page's buttons drive the simulators (SandboxEndpoints).
/// </summary>
public static class StatusEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/status", (HttpContext context, AdminAccess access) =>
        {
            if (AdminAccess.LocalOnly(context, "The status page") is { } refused)
                return refused;
            if (!access.SignedIn(context))
                return Results.Content(Asset("login.html"), "text/html; charset=utf-8");
            // The page sends this value with its actions (AdminAccess.CsrfHeader); a page of another site cannot read it.
            context.Response.Headers.CacheControl = "no-store";
            return Results.Content(Asset("status.html").Replace("{{csrf}}", access.PageCsrf(context), StringComparison.Ordinal), "text/html; charset=utf-8");
        });
        endpoints.MapPost("/status/login", async (HttpContext context, AdminAccess access) =>
        {
            if (AdminAccess.LocalOnly(context, "The status page") is { } refused)
                return refused;
            if (!access.TokenRequired)
                return Results.Redirect("/status");
            var form = await context.Request.ReadFormAsync();
            if (!access.TrySignIn(form["token"].ToString(), out var session))
                return UcApiEndpoints.Problem(401, "token", "That is not this node's presence.admin.token.");
            // The cookie holds a random session id, never the token; it ends with the session (AdminAccess.SessionLifetime).
            context.Response.Cookies.Append(AdminAccess.SessionCookie, session, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = context.Request.IsHttps,
                Path = "/",
                MaxAge = AdminAccess.SessionLifetime,
            });
            return Results.Redirect("/status");
        });
        endpoints.MapPost("/status/logout", (HttpContext context, AdminAccess access) =>
        {
            if (AdminAccess.LocalOnly(context, "The status page") is { } refused)
                return refused;
            access.SignOut(context);
            context.Response.Cookies.Delete(AdminAccess.SessionCookie, new CookieOptions { Path = "/" });
            return Results.Redirect("/status");
        });

        return endpoints;
    }

    /// <summary>The page's data, on the admin group so that its loopback and token checks apply.</summary>
    internal static void MapStatusData(RouteGroupBuilder admin)
    {
        admin.MapGet("/status/data", Data);
        admin.MapGet("/status/users", Users);
        admin.MapGet("/status/feed", Feed);
    }

    private static string Asset(string name)
    {
        using var stream = typeof(StatusEndpoints).Assembly.GetManifestResourceStream($"PresenceActors.Host.Admin.{name}")
                           ?? throw new InvalidOperationException($"The Host was built without its {name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task<IResult> Data(ActorSystem system, IRequiredActor<SubscriptionPoolKey> pool, UcFrontEndEmitter emitter,
        WebhookMetrics webhook, PresenceActors.Ingress.IngressLog ingress, GraphMetrics graph, HealthCheckService health, TimeProvider clock, IServiceProvider services,
        CancellationToken cancellationToken)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var now = clock.GetUtcNow();
        PoolStatus? poolStatus = null;
        string? poolProblem = null;
        try
        {
            poolStatus = await pool.ActorRef.Ask<PoolStatus>(new SubscriptionPoolCommands.GetPoolStatus(), AskTimeout, cancellationToken);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            poolProblem = "The subscription pool did not answer within 5 s (singleton moving, or the cluster not formed).";
        }

        var report = await health.CheckHealthAsync(c => !c.Tags.Contains("liveness"), cancellationToken);
        var sandbox = services.GetService<SandboxControls>();
        var latency = emitter.Recent.Summary();
        var singletonHost = PresenceActors.Cluster.ClusterSetup.UpByAge(state).FirstOrDefault();
        return Results.Json(new
        {
            node = cluster.SelfAddress.ToString(),
            at = now,
            ready = report.Status == HealthStatus.Healthy,
            readiness = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description }),
            cluster = new
            {
                leader = state.Leader?.ToString(),
                singletonHost = singletonHost?.Address.ToString(),
                members = state.Members.Select(m => new
                {
                    address = m.Address.ToString(),
                    status = m.Status.ToString(),
                    roles = m.Roles.ToArray(),
                    reachable = !state.Unreachable.Contains(m),
                    self = m.Address == cluster.SelfAddress,
                }),
            },
            pool = poolStatus is null ? null : new
            {
                watched = poolStatus.WatchedUsers,
                unwatched = poolStatus.UnwatchedUsers,
                unwatchedSample = poolStatus.UnwatchedSample,
                accounts = poolStatus.Accounts.Select(a => Account(a, now)),
            },
            poolProblem,
            frontEnds = emitter.FrontEnds.Select((f, i) => new
            {
                url = f.Url.ToString(),
                health = f.Healthy ? "green" : "red",
                reason = f.Healthy ? "answering" : "failed recently: passed over until the hold expires",
                mode = sandbox?.FrontEnds.ElementAtOrDefault(i).Mode,
            }),
            counters = new
            {
                notificationsReceived = webhook.Received,
                notificationsAccepted = webhook.Accepted,
                notificationsDropped = webhook.Dropped,
                notificationsNotTaken = webhook.NotTaken,
                notificationsUnknownCertificate = webhook.UnknownCertificates,
                ingressBacklog = ingress.Backlog,
                ingressTakenOver = ingress.TakenOver,
                ucUpdatesSent = emitter.Sent,
                ucUpdatesFailed = emitter.Failed,
                ucUsersWaiting = emitter.PendingUsers,
                graphCalls = graph.Total,
                graphThrottled = graph.Throttled,
                // This node's presence calls in the last 30 s against its share of the budgets, all applications and each.
                presenceBudgetInUse = graph.Governors.Sum(g => g.InUse),
                presenceBudgetShare = graph.Governors.Sum(g => g.Share),
                presenceCallsWaiting = graph.Governors.Sum(g => g.Waiting.Values.Sum()),
                presenceBudgets = graph.Governors.Select(g => new { application = g.Application, inUse = g.InUse, share = g.Share, waiting = g.Waiting.Values.Sum() }),
            },
            latency = latency is { } l ? new { p50 = Math.Round(l.P50, 2), p99 = Math.Round(l.P99, 2), max = Math.Round(l.Max, 2), samples = l.Samples } : null,
            lastHour = new
            {
                // The charts: sync latency p50/p99 and the rates of notifications and UC updates, minute by minute.
                latency = emitter.LastHour.LastHour().Select(p => new { at = p.Minute, p50 = Round(p.P50), p99 = Round(p.P99) }),
                notifications = webhook.LastHour.LastHour().Select(p => new { at = p.Minute, perSecond = Math.Round(p.PerSecond, 3) }),
                ucUpdates = emitter.LastHour.LastHour().Select(p => new { at = p.Minute, perSecond = Math.Round(p.PerSecond, 3) }),
            },
            sandbox = sandbox is not null,
        }, Json);
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 2) : null;

    /// <summary>Green: subscribed with time to spare; amber: something will need attention; red: users are not watched.</summary>
    private static object Account(AccountStatus a, DateTimeOffset now)
    {
        var left = a.ExpiresAt is { } expires ? expires - now : (TimeSpan?)null;
        var (health, reason) = a switch
        {
            { HasCredentials: false } => ("red", "no password configured for this account"),
            { Healthy: false } => ("red", a.Problem ?? "cannot sign in"),
            { Users: > 0, SubscriptionId: null } => ("red", a.Problem ?? "users assigned but no subscription"),
            { Draining: true } => ("amber", "draining: its users move to other accounts"),
            _ when left is { } l && l < TimeSpan.FromMinutes(5) => ("amber", "subscription expires in under 5 minutes and was not renewed yet"),
            { SubscribedUsers: var s, Users: var u } when s < u => ("amber", $"{u - s} assigned users not in the subscription yet"),
            _ => ("green", a.SubscriptionId is null ? "idle: no users assigned" : "subscribed"),
        };
        return new
        {
            account = a.Account,
            users = a.Users,
            capacity = a.Capacity,
            subscriptionId = a.SubscriptionId,
            expiresAt = a.ExpiresAt,
            expiresInSeconds = left is { } t ? (long?)Math.Max(0, (long)t.TotalSeconds) : null,
            lastRenewal = a.LastRenewedAt,
            subscribedUsers = a.SubscribedUsers,
            health,
            reason,
        };
    }

    private static async Task<IResult> Users(string? q, int? limit, IRequiredActor<UserRegistryKey> registry, IRequiredActor<UserPresenceRegion> users,
        IServiceProvider services, CancellationToken cancellationToken)
    {
        var take = Math.Clamp(limit ?? 50, 1, 200);
        var all = await registry.ActorRef.AllMappingsAsync(AskTimeout, cancellationToken);
        var matching = all
            .Where(m => string.IsNullOrWhiteSpace(q)
                        || m.UcUserId.Contains(q, StringComparison.OrdinalIgnoreCase)
                        || m.UserPrincipalName.Contains(q, StringComparison.OrdinalIgnoreCase)
                        || m.TeamsUserId.Equals(q, StringComparison.OrdinalIgnoreCase))
            .OrderBy(m => m.UcUserId, StringComparer.Ordinal)
            .ToList();
        var sandbox = services.GetService<SandboxControls>();
        var optedOut = (await registry.ActorRef.Ask<UserRegistryCommands.OptedOutUsers>(new UserRegistryCommands.ListOptedOut(), AskTimeout, cancellationToken))
            .UcUserIds.ToHashSet(StringComparer.Ordinal);
        var views = await Task.WhenAll(matching.Take(take).Select(async m =>
        {
            var snapshot = await users.ActorRef.AskSnapshotAsync(m.TeamsUserId, AskTimeout, cancellationToken);
            var ucSide = sandbox?.UcSide(m.UcUserId);
            return new
            {
                user = UcApiEndpoints.UserView.From(m, snapshot, !optedOut.Contains(m.UcUserId)),
                ourSessionActive = snapshot.TeamsSessionActive,
                simulator = sandbox is null ? null : new { teams = sandbox.TeamsSide(m.TeamsUserId), uc = ucSide?.Status, ucOnPhone = ucSide?.OnPhone },
            };
        }));
        return Results.Json(new { total = matching.Count, shown = views.Length, users = views }, Json);
    }

    /// <summary>Server-sent events: every rule that fires on this node, as it fires.</summary>
    private static Task Feed(HttpContext context, ActorSystem system) =>
        ServerSentEvents.StreamAsync(context, system, lines => Props.Create(() => new DecisionListener(lines)));

    /// <summary>Forwards the node's sync decisions to one feed stream.</summary>
    private sealed class DecisionListener : ReceiveActor
    {
        public DecisionListener(ChannelWriter<string> lines) => Receive<SyncDecision>(d => lines.TryWrite(JsonSerializer.Serialize(d, Json)));

        protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(SyncDecision));

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }
}
