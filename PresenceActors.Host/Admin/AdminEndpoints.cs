using System.Net;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using PresenceActors.Graph;
using PresenceActors.Host.UcApi;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.Users;

namespace PresenceActors.Host.Admin;

/// <summary>
/// The admin surface the pbm-style CLI talks to (docs/operator-guide.md, "Command line (pbm style)"): cluster, sharding and presence.
/// Every request passes <see cref="AdminAccess.Check"/> (loopback, the token, and for actions a header a cross-site page cannot send).
/// </summary>
public static class AdminEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Who may use the admin surface: loopback, the admin token, presence.admin.open.</summary>
    public static IServiceCollection AddAdmin(this IServiceCollection services, PresenceServiceOptions options) =>
        services.AddSingleton(sp => new AdminAccess(options.AdminToken, options.AdminOpen, sp.GetRequiredService<TimeProvider>()));

    public static IEndpointRouteBuilder MapAdmin(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapAdminGroup();

        admin.MapGet("/cluster", (ActorSystem system) =>
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var state = cluster.State;
            var byAge = PresenceActors.Cluster.ClusterSetup.UpByAge(state);
            return Results.Json(new
            {
                self = cluster.SelfAddress.ToString(),
                leader = state.Leader?.ToString(),
                // Where the singletons run: the oldest Up member.
                oldest = byAge.FirstOrDefault()?.Address.ToString(),
                members = state.Members.Select(m => new
                {
                    address = m.Address.ToString(),
                    status = m.Status.ToString(),
                    // 1 for the oldest Up member, 2 for the next; none for a member not Up.
                    age = byAge.IndexOf(m) is var i and >= 0 ? i + 1 : (int?)null,
                    roles = m.Roles.ToArray(),
                    reachable = !state.Unreachable.Contains(m),
                }),
            });
        });
        admin.MapPost("/cluster/leave", (HttpContext context, ActorSystem system) => ClusterActionAsync(context, system, (c, a) => c.Leave(a), "leaving"));
        admin.MapPost("/cluster/down", (HttpContext context, ActorSystem system) => ClusterActionAsync(context, system, (c, a) => c.Down(a), "downed"));
        admin.MapPost("/cluster/down-unreachable", (ActorSystem system) =>
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var unreachable = cluster.State.Unreachable.Select(m => m.Address).ToList();
            foreach (var address in unreachable)
                cluster.Down(address);
            return Results.Json(new { ok = true, message = unreachable.Count == 0 ? "no unreachable members" : $"downed {string.Join(", ", unreachable)}" });
        });
        // Server-sent events: the current members first, then every membership and reachability change.
        admin.MapGet("/cluster/tail", (HttpContext context, ActorSystem system) =>
            ServerSentEvents.StreamAsync(context, system, lines => Props.Create(() => new ClusterTail(lines))));
        admin.MapGet("/sharding/locate", async (string entity, IRequiredActor<UserPresenceRegion> users) =>
        {
            var location = await users.ActorRef.Ask<EntityLocation>(new GetEntityLocation(entity, AskTimeout), AskTimeout + TimeSpan.FromSeconds(1));
            return Results.Json(new
            {
                entity = location.EntityId,
                shard = location.ShardId,
                region = location.ShardRegion?.ToString(),
                running = location.EntityRef.HasValue,
            });
        });
        admin.MapGet("/sharding/regions", (ActorSystem system) => Results.Json(ClusterSharding.Get(system).ShardTypeNames.Order()));
        admin.MapGet("/sharding/region-stats", async (IRequiredActor<UserPresenceRegion> users) =>
        {
            var stats = await users.ActorRef.Ask<ShardRegionStats>(GetShardRegionStats.Instance, AskTimeout);
            return Results.Json(new { region = UserPresenceSetup.RegionName, shards = stats.Stats.OrderBy(s => s.Key).ToDictionary(s => s.Key, s => s.Value) });
        });
        admin.MapGet("/presence/users/{user}", async (string user, IUserDirectory directory, IRequiredActor<UserRegistryKey> registry,
            IRequiredActor<UserPresenceRegion> users, IRequiredActor<SubscriptionPoolKey> pool, CancellationToken cancellationToken) =>
        {
            // A UC user id, or a Teams user by object id, UPN or mail.
            var (mapping, teamsId) = await MappingEndpoints.ResolveUserAsync(user, directory, registry.ActorRef, cancellationToken);
            if (teamsId is null || mapping is null)
                return UcApiEndpoints.Problem(404, "user", $"No UC user or Teams user '{user}'.");
            var snapshot = await users.ActorRef.AskSnapshotAsync(teamsId, AskTimeout);
            var sync = await registry.ActorRef.Ask<UserRegistryCommands.SyncSetting>(new UserRegistryCommands.GetSynchronised(mapping.UcUserId), AskTimeout);
            var assignment = await pool.ActorRef.Ask<SubscriptionPoolCommands.Assignment>(new SubscriptionPoolCommands.GetAssignment(teamsId), AskTimeout);
            return Results.Json(new { user = UcApiEndpoints.UserView.From(mapping, snapshot, sync.Synchronised), technicalAccount = assignment.Account });
        });
        admin.MapGet("/presence/pool", async (IRequiredActor<SubscriptionPoolKey> pool) =>
            Results.Json(await pool.ActorRef.Ask<PoolStatus>(new SubscriptionPoolCommands.GetPoolStatus(), AskTimeout)));
        admin.MapPost("/presence/resync", async (HttpContext context, IRequiredActor<SubscriptionPoolKey> pool) =>
        {
            var (body, problem) = await AdminAccess.ReadBodyAsync<UserParameter>(context);
            if (body is null)
                return problem!;
            return Results.Json(await pool.ActorRef.Ask<SubscriptionPoolCommands.CommandResult>(
                new SubscriptionPoolCommands.Resync(body.User is null ? [] : [body.User]), AskTimeout));
        });
        admin.MapPost("/presence/sync", async (HttpContext context, AdminAccess access, IUserDirectory directory, IRequiredActor<UserRegistryKey> registry,
            CancellationToken cancellationToken) =>
        {
            var (body, problem) = await AdminAccess.ReadBodyAsync<SyncParameter>(context);
            if (body is null)
                return problem!;
            if (string.IsNullOrWhiteSpace(body.User) || body.Enabled is not { } enabled)
                return UcApiEndpoints.Problem(400, string.IsNullOrWhiteSpace(body.User) ? "user" : "enabled", "'user' (a UC user id, or a Teams object id, UPN or mail) and 'enabled' (true or false) are required.");
            var (mapping, _) = await MappingEndpoints.ResolveUserAsync(body.User.Trim(), directory, registry.ActorRef, cancellationToken);
            if (mapping is null || mapping.UcUserId == MappingEndpoints.NotRegistered)
                return UcApiEndpoints.Problem(404, "user", $"'{body.User.Trim()}' is not a registered user: only registered users can be left out or taken back.");
            return await UcApiEndpoints.SetSynchronisedAsync(registry.ActorRef, mapping.UcUserId, enabled, access.Caller(context));
        });
        admin.MapPost("/accounts/add", (HttpContext context, IRequiredActor<SubscriptionPoolKey> pool) =>
            AccountActionAsync(context, pool, account => new SubscriptionPoolCommands.AddAccount(account)));
        admin.MapPost("/accounts/remove", (HttpContext context, IRequiredActor<SubscriptionPoolKey> pool) =>
            AccountActionAsync(context, pool, account => new SubscriptionPoolCommands.RemoveAccount(account)));
        admin.MapGet("/certificates", (PresenceActors.Webhooks.EncryptionCertificates certificates) =>
            Results.Json(new { current = certificates.CurrentId, accepted = certificates.Ids, rotatable = certificates.Rotatable }));
        admin.MapPost("/certificates/rotate", async (PresenceActors.Webhooks.EncryptionCertificates certificates, IRequiredActor<SubscriptionPoolKey> pool,
            CancellationToken cancellationToken) =>
        {
            if (!certificates.Rotatable)
            {
                return UcApiEndpoints.Problem(409, "presence.encryption.certificate",
                    "The encryption certificate comes from a file (presence.encryption.certificate or the data folder's): replace the file on every node to rotate it (docs/operator-guide.md, \"Rotating the encryption certificate\").");
            }

            // Stored first (every node finds it there when Graph names it), then every subscription renewed with it.
            var id = await certificates.RotateAsync(cancellationToken);
            var renewed = await pool.ActorRef.Ask<SubscriptionPoolCommands.CommandResult>(new SubscriptionPoolCommands.EncryptionRotated(id), AskTimeout);
            return Results.Json(new { ok = true, current = id, accepted = certificates.Ids, message = $"Certificate {id} is current. {renewed.Message}" });
        });
        StatusEndpoints.MapStatusData(admin);
        MappingEndpoints.Map(admin);
        return endpoints;
    }

    /// <summary>The /admin group: every request passes <see cref="AdminAccess.Check"/> first.</summary>
    internal static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGroup("/admin").AddEndpointFilter(async (context, next) =>
            context.HttpContext.RequestServices.GetRequiredService<AdminAccess>().Check(context.HttpContext) ?? await next(context));

    /// <summary>The parameter of <c>cluster leave</c> and <c>cluster down</c>.</summary>
    public sealed record AddressParameter
    {
        public string? Address { get; init; }
    }

    /// <summary>The parameter of <c>presence resync</c> (none: every user).</summary>
    public sealed record UserParameter
    {
        public string? User { get; init; }
    }

    /// <summary>The parameters of <c>presence opt-out</c> and <c>presence opt-in</c>.</summary>
    public sealed record SyncParameter
    {
        public string? User { get; init; }

        public bool? Enabled { get; init; }
    }

    /// <summary>The parameter of <c>accounts add</c> and <c>accounts remove</c>.</summary>
    public sealed record AccountParameter
    {
        public string? Account { get; init; }
    }

    private static async Task<IResult> ClusterActionAsync(HttpContext context, ActorSystem system, Action<Akka.Cluster.Cluster, Address> action, string done)
    {
        var (body, problem) = await AdminAccess.ReadBodyAsync<AddressParameter>(context);
        if (body is null)
            return problem!;
        if (string.IsNullOrWhiteSpace(body.Address))
            return UcApiEndpoints.Problem(400, "address", "'address' is required: a member address like akka.tcp://presence@host:4053.");
        Address parsed;
        try
        {
            parsed = Address.Parse(body.Address);
        }
        catch (UriFormatException)
        {
            return UcApiEndpoints.Problem(400, "address", $"'{body.Address}' is not an address like akka.tcp://presence@host:4053.");
        }

        var cluster = Akka.Cluster.Cluster.Get(system);
        if (cluster.State.Members.All(m => m.Address != parsed))
            return UcApiEndpoints.Problem(404, "address", $"{body.Address} is not a member of this cluster.");
        action(cluster, parsed);
        return Results.Json(new { ok = true, message = $"{body.Address} {done}" });
    }

    private static async Task<IResult> AccountActionAsync(HttpContext context, IRequiredActor<SubscriptionPoolKey> pool, Func<string, object> command)
    {
        var (body, problem) = await AdminAccess.ReadBodyAsync<AccountParameter>(context);
        if (body is null)
            return problem!;
        if (string.IsNullOrWhiteSpace(body.Account))
            return UcApiEndpoints.Problem(400, "account", "'account' is required: the technical user's UPN.");
        return Result(await pool.ActorRef.Ask<SubscriptionPoolCommands.CommandResult>(command(body.Account.Trim()), AskTimeout));
    }

    private static IResult Result(SubscriptionPoolCommands.CommandResult result) =>
        result.Ok ? Results.Json(result) : UcApiEndpoints.Problem(409, "account", result.Message);

    /// <summary>Forwards cluster membership events to one `cluster tail` stream.</summary>
    private sealed class ClusterTail : ReceiveActor
    {
        public ClusterTail(System.Threading.Channels.ChannelWriter<string> lines)
        {
            Receive<Akka.Cluster.ClusterEvent.IMemberEvent>(e => lines.TryWrite($"{DateTimeOffset.UtcNow:O} {e.GetType().Name} {e.Member.Address} {e.Member.Status}"));
            Receive<Akka.Cluster.ClusterEvent.ReachabilityEvent>(e => lines.TryWrite($"{DateTimeOffset.UtcNow:O} {e.GetType().Name} {e.Member.Address}"));
            Receive<Akka.Cluster.ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, Akka.Cluster.ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(Akka.Cluster.ClusterEvent.IMemberEvent), typeof(Akka.Cluster.ClusterEvent.IReachabilityEvent));

        protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
