using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Graph;
using PresenceActors.Host;
using PresenceActors.Host.Sandbox;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using PresenceActors.Webhooks;

using Xunit;

namespace PresenceActors.Tests.Support;

/// <summary>
/// The whole loop in one process over HTTPS on loopback: the Graph simulator, the UC simulator (front ends and back end)
/// and one node of the service with the real SDKs, actors and SQLite.
/// </summary>
internal sealed class Loop : IAsyncDisposable
{
    public const string ClientId = "0f2c5a9e-6d1b-4e3a-8c7f-9a1b2c3d4e5f";
    public const string ClientSecret = "loop-secret~abcdefghijklmnop";
    public const string ApiKey = "internal-api-key-for-tests-0123456789";

    private readonly TempDatabase _db;

    public PresenceServiceOptions Options { get; private set; } = null!;

    private Loop(GraphSimulator graph, UcSimulator uc, WebApplication service, TempDatabase db, List<(string Username, string Password)> accounts)
    {
        Graph = graph;
        Uc = uc;
        Service = service;
        _db = db;
        Accounts = accounts;
    }

    public GraphSimulator Graph { get; }

    /// <summary>
    /// Whether the Graph simulator's call log holds, from position <paramref name="from"/>, a successful call of
    /// <paramref name="api"/> for the user. The simulator logs a call as its answer starts, after the state it changed:
    /// a test that saw the state wait for this before reading the log.
    /// </summary>
    public bool GraphAnswered(string api, string userId, int from = 0) =>
        Graph.Faults.Calls.Skip(from).Any(c => c.Api == api && c.Status < 400 && c.Path.Contains(userId, StringComparison.OrdinalIgnoreCase));

    public UcSimulator Uc { get; }

    public WebApplication Service { get; private set; }

    public List<(string Username, string Password)> Accounts { get; }

    public ActorSystem System => Service.Services.GetRequiredService<ActorSystem>();

    public IActorRef Users => ActorRegistry.For(System).Get<UserPresenceRegion>();

    public IActorRef Pool => ActorRegistry.For(System).Get<SubscriptionPoolKey>();

    public WebhookMetrics WebhookMetrics => Service.Services.GetRequiredService<WebhookMetrics>();

    public ListenerPorts Ports => Service.Services.GetRequiredService<ListenerPorts>();

    public Uri WebhookUrl => new($"https://127.0.0.1:{Ports.Webhook}/graph/listen");

    public static async Task<Loop> StartAsync(int technicalAccounts = 1, bool rateLimits = true,
        Func<PresenceServiceOptions, PresenceServiceOptions>? adjust = null, TimeProvider? graphClock = null, ILoggerProvider? captureLogs = null,
        Action<GraphSimulator>? prepareGraph = null, Action<WebApplicationBuilder>? configure = null)
    {
        var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions { RateLimits = rateLimits, Clock = graphClock ?? TimeProvider.System });
        prepareGraph?.Invoke(graph);
        graph.Tenant.AddApplication(ClientId, ClientSecret);
        var accounts = new List<(string, string)>();
        for (var i = 1; i <= technicalAccounts; i++)
        {
            var password = $"Tech-{i}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4))}";
            graph.Tenant.AddUser($"tech{i}@contoso.com", password: password, technical: true);
            accounts.Add(($"tech{i}@contoso.com", password));
        }

        var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApiKey = ApiKey });
        var db = new TempDatabase();
        var options = SimulatedService.Options(graph, ClientId, ClientSecret,
            accounts.Select(a => new TechnicalAccountCredentials(a.Item1, a.Item2)).ToList(), uc, ApiKey, db.Path,
            SimulatedTenant.EncryptionCertificate(), new SimulatedService.Listen(TestPorts.Next()));
        options = options with { FrontEnds = options.FrontEnds with { FailoverHold = TimeSpan.FromSeconds(2) } };
        options = adjust?.Invoke(options) ?? options;
        var service = PresenceService.Build(options, configure: b =>
        {
            b.Logging.SetMinimumLevel(captureLogs is null ? LogLevel.Warning : LogLevel.Debug);
            if (captureLogs is not null)
                b.Logging.AddProvider(captureLogs);
            configure?.Invoke(b);
        });
        await service.StartAsync();
        var loop = new Loop(graph, uc, service, db, accounts) { Options = options };
        uc.ServiceApi = new Uri($"https://127.0.0.1:{loop.Ports.InternalApi}/");
        return loop;
    }

    /// <summary>Creates Teams users in the simulator and UC users in the UC simulator, registers them and waits until all are watched.</summary>
    public async Task<List<(string UcUserId, SimUser Teams)>> AddUsersAsync(int count, string ucStatus = "Available", string prefix = "u")
    {
        var users = new List<(string, SimUser)>();
        for (var i = 0; i < count; i++)
        {
            var teams = Graph.Tenant.AddUser($"{prefix}{i}.{Guid.NewGuid().ToString("N")[..8]}@contoso.com");
            var ucUserId = $"{prefix}-{i}-{teams.Id[..8]}";
            Uc.AddUser(ucUserId, ucStatus);
            var (status, _) = await Uc.RegisterAsync(ucUserId, teams.UserPrincipalName);
            if (status != HttpStatusCode.OK)
                throw new InvalidOperationException($"registering {ucUserId} answered {status}");
            await Uc.ReportAsync(Uc.User(ucUserId)!); // UC tells the bridge the status the user has now
            users.Add((ucUserId, teams));
        }

        await Eventually.TrueAsync(() => users.All(u => Graph.Tenant.SubscriptionsWatching(u.Item2.Id).Count == 1), TimeSpan.FromSeconds(30),
            "every registered user watched by a subscription");
        return users;
    }

    public async Task<UserPresenceState> StateOfAsync(string teamsUserId) =>
        (await Users.Ask<UserPresenceQueries.UserPresenceView>(new UserPresenceQueries.GetUserPresence(teamsUserId), TimeSpan.FromSeconds(10))).State;

    /// <summary>Waits until the service has seen the simulator's current presence of the user (a bulk read forces it).</summary>
    public async Task CaughtUpAsync(SimUser user)
    {
        Pool.Tell(new SubscriptionPoolCommands.Resync([user.Id]));
        var expected = Graph.Tenant.GetPresence(user.Id).SequenceNumber;
        await Eventually.TrueAsync(async () => (await StateOfAsync(user.Id)).Teams?.SequenceNumber == expected, what: "service caught up with Graph");
    }

    /// <summary>
    /// Waits until bulk reads have handed on (to the users' actors, or left alone as idle) at least
    /// <paramref name="users"/> users in all since the service started: a sign that the reads so far are done with.
    /// </summary>
    public Task ReadsHandedOnAsync(long users)
    {
        var metrics = Service.Services.GetRequiredService<PresenceMetrics>();
        return Eventually.TrueAsync(() => metrics.BulkReadsForwarded + metrics.BulkReadsLeftIdle >= users, what: $"bulk reads of {users} users handed on");
    }

    public Task<PoolStatus> PoolStatusAsync() => Pool.Ask<PoolStatus>(new SubscriptionPoolCommands.GetPoolStatus(), TimeSpan.FromSeconds(10));

    /// <summary>
    /// The node stopped and started again on the same database, ports and simulators (Graph keeps its subscriptions),
    /// with its options changed by <paramref name="adjust"/>: an operator's restart after a configuration change.
    /// </summary>
    public async Task RestartAsync(Func<PresenceServiceOptions, PresenceServiceOptions>? adjust = null)
    {
        await Service.StopAsync();
        await Service.DisposeAsync();
        Options = adjust?.Invoke(Options) ?? Options;
        Service = PresenceService.Build(Options, configure: b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await Service.StartAsync();
        Uc.ServiceApi = new Uri($"https://127.0.0.1:{Ports.InternalApi}/");
    }

    public async ValueTask DisposeAsync()
    {
        await Service.StopAsync();
        await Service.DisposeAsync();
        await Uc.DisposeAsync();
        await Graph.DisposeAsync();
        _db.Dispose();
    }
}

/// <summary>One loop shared by the tests of a class (each test uses its own users).</summary>
public sealed class LoopFixture : IAsyncLifetime
{
    internal Loop Loop { get; private set; } = null!;

    public async Task InitializeAsync() => Loop = await Loop.StartAsync();

    public async Task DisposeAsync() => await Loop.DisposeAsync();
}
