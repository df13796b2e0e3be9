using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using PresenceActors.Graph;
using PresenceActors.Host;
using PresenceActors.Host.Sandbox;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Webhooks;

namespace PresenceActors.Benchmarks;

/// <summary>
/// The whole loop in this process, on 127.0.0.1: the Graph + Entra simulator, the UC simulator and one service node with
/// SQLite, with <c>users</c> registered through the internal API and watched by <c>accounts</c> technical accounts.
/// The service can be stopped and started again on the same database (B5).
/// </summary>
internal sealed class Rig : IAsyncDisposable
{
    public const string ClientId = "b1c2d3e4-0000-4000-8000-000000000001";
    private const string Secret = "bench-secret";

    private readonly string _data;
    private readonly string _apiKey;
    private readonly List<TechnicalAccountCredentials> _accounts;

    private Rig(GraphSimulator graph, UcSimulator uc, string data, string apiKey, List<TechnicalAccountCredentials> accounts)
    {
        Graph = graph;
        Uc = uc;
        _data = data;
        _apiKey = apiKey;
        _accounts = accounts;
        Encryption = EncryptionCertificates.LoadOrCreate(Path.Combine(data, "encryption.pfx"));
        WebhookPort = FreePort();
    }

    public GraphSimulator Graph { get; }

    public UcSimulator Uc { get; }

    public WebApplication? Service { get; private set; }

    public System.Security.Cryptography.X509Certificates.X509Certificate2 Encryption { get; }

    public int WebhookPort { get; }

    public System.Security.Cryptography.X509Certificates.X509Certificate2 Tls { get; private set; } = null!;

    /// <summary>Technical accounts the simulator has and the service is configured with.</summary>
    public int Accounts => _accounts.Count;

    /// <summary>(UC user id, Teams object id) of every registered user.</summary>
    public List<(string UcUserId, string TeamsId)> Users { get; } = [];

    public string DatabaseFile => Path.Combine(_data, "presence.db");

    private int _presenceBudget = GraphOptions.DefaultPresenceBudget;

    /// <summary>Applications beyond the first (each with its own presence budget at the simulator and in the service).</summary>
    private List<GraphApplication> _moreApplications = [];

    /// <summary>The service in a process of its own (B4, B5), or null: in this process (<see cref="Service"/>).</summary>
    public ServiceProcess? Process { get; private set; }

    /// <param name="separateProcess">Run the service in a process of its own, with the operator's defaults (B4, B5).</param>
    public static async Task<Rig> StartAsync(int accounts, bool rateLimits, int applications = 1, bool separateProcess = false)
    {
        var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions { RateLimits = rateLimits });
        graph.Tenant.AddApplication(ClientId, Secret);
        var more = Enumerable.Range(2, applications - 1).Select(n => new GraphApplication($"b1c2d3e4-0000-4000-8000-{n:D12}", $"{Secret}-{n}")).ToList();
        foreach (var application in more)
            graph.Tenant.AddApplication(application.ClientId, application.ClientSecret);
        var credentials = new List<TechnicalAccountCredentials>();
        for (var i = 1; i <= accounts; i++)
        {
            var password = $"Bench-{i}-P4ss";
            graph.Tenant.AddUser($"bench-tech{i}@contoso.com", password: password, technical: true);
            credentials.Add(new TechnicalAccountCredentials($"bench-tech{i}@contoso.com", password));
        }

        var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApiKey = apiKey });
        var data = Path.Combine(Path.GetTempPath(), $"presence-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(data);
        // Without the simulator's rate limits the service's governor is opened as wide: B1 to B3 measure throughput, not
        // Graph's budget (B3 within the budget runs on a rig of its own, with both on).
        var rig = new Rig(graph, uc, data, apiKey, credentials) { _presenceBudget = rateLimits ? GraphOptions.DefaultPresenceBudget : 10_000_000, _moreApplications = more };
        if (separateProcess)
            rig.Process = new ServiceProcess(graph, uc, ClientId, Secret, credentials, apiKey, data);
        await rig.StartServiceAsync();
        return rig;
    }

    public async Task StartServiceAsync()
    {
        if (Process is { } process)
        {
            await process.StartAsync(TimeSpan.FromMinutes(5));
            Uc.ServiceApi = new Uri($"https://127.0.0.1:{process.Api}/");
            return;
        }

        var options = SimulatedService.Options(Graph, ClientId, Secret, _accounts, Uc, _apiKey, DatabaseFile, Encryption, new SimulatedService.Listen(WebhookPort));
        options = options with { Graph = options.Graph with { PresenceBudget = _presenceBudget, MoreApplications = _moreApplications } };
        Tls = options.Webhook.Certificate!;
        Service = PresenceService.Build(options, configure: b => b.Logging.SetMinimumLevel(LogLevel.Error));
        await Service.StartAsync();
        Uc.ServiceApi = new Uri($"https://127.0.0.1:{Service.Services.GetRequiredService<ListenerPorts>().InternalApi}/");
    }

    public async Task StopServiceAsync()
    {
        if (Process is { } process)
            await process.StopAsync();
        if (Service is null)
            return;
        await Service.StopAsync();
        await Service.DisposeAsync();
        Service = null;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    /// <summary>The bridge's state of one user, for a diagnosis.</summary>
    public async Task<string> DescribeUserAsync(string teamsId)
    {
        var system = Service!.Services.GetRequiredService<Akka.Actor.ActorSystem>();
        var users = Akka.Hosting.ActorRegistry.For(system).Get<PresenceActors.Users.UserPresenceRegion>();
        var snapshot = await PresenceActors.Users.UserSnapshots.AskSnapshotAsync(users, teamsId, TimeSpan.FromSeconds(10));
        return snapshot.ToString();
    }

    /// <summary>Creates the users in both simulators (Teams Available, UC Available).</summary>
    public List<(string UcUserId, string TeamsId)> CreateUsers(int count, string prefix)
    {
        var created = new List<(string UcUserId, string TeamsId)>();
        for (var i = 0; i < count; i++)
        {
            var user = Graph.Tenant.AddUser($"{prefix}{i}@contoso.com");
            Uc.AddUser($"uc-{prefix}{i}");
            created.Add(($"uc-{prefix}{i}", user.Id));
        }

        Users.AddRange(created);
        return created;
    }

    /// <summary>Registers every created user through the internal API, <c>parallel</c> at a time, as the UC back end would.</summary>
    public async Task RegisterAsync(int parallel = 16)
    {
        var next = -1;
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Users.Count)
            {
                var (status, _) = await Uc.RegisterAsync(Users[i].UcUserId, Users[i].TeamsId);
                if (status != HttpStatusCode.OK)
                    Interlocked.Increment(ref failures);
                else
                    await Uc.ReportAsync(Uc.User(Users[i].UcUserId)!); // the UC back end reports the current status after registering

            }
        }));
        if (failures > 0)
            throw new InvalidOperationException($"{failures} registrations failed.");
    }

    /// <summary>
    /// Registers every created user in one call, as a UC back end loads its directory at installation: PUT /api/v1/users
    /// with the full list. Returns how many the service reports added or unchanged.
    /// </summary>
    public async Task<int> RegisterAllAsync()
    {
        // Loopback only; the service's certificate is the rig's own self-signed one.
        using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } })
        {
            Timeout = TimeSpan.FromMinutes(20),
        };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _apiKey);
        var list = Users.Select(u => new { ucUserId = u.UcUserId, teamsUser = u.TeamsId }).ToList();
        using var response = await http.PutAsJsonAsync(new Uri(Uc.ServiceApi!, "api/v1/users"), list);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        if (!response.IsSuccessStatusCode || body?["failures"]?.AsArray().Count > 0)
            throw new InvalidOperationException($"Bulk registration answered {(int)response.StatusCode}: {body?.ToJsonString()[..Math.Min(500, body.ToJsonString().Length)]}");
        return body!["added"]!.AsArray().Count + body["unchanged"]!.AsArray().Count;
    }

    /// <summary>Users covered by a live subscription in the simulator (each once, however many subscriptions cover them).</summary>
    public int Watched() => Graph.Tenant.ListSubscriptions().SelectMany(s => s.UserIds).Distinct(StringComparer.OrdinalIgnoreCase).Count();

    /// <summary>Subscriptions alive in the simulator.</summary>
    public int Subscriptions() => Graph.Tenant.ListSubscriptions().Count;

    /// <summary>Waits (polling, this is a program) until every registered user is watched; returns how long that took.</summary>
    public async Task<TimeSpan> WaitUntilAllWatchedAsync(TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (Watched() < Users.Count && watch.Elapsed < limit)
            await timer.WaitForNextTickAsync();
        return Watched() >= Users.Count ? watch.Elapsed : throw new TimeoutException($"Only {Watched()} of {Users.Count} users watched after {limit}.");
    }

    public async ValueTask DisposeAsync()
    {
        await StopServiceAsync();
        await Uc.DisposeAsync();
        await Graph.DisposeAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
