using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;

namespace PresenceActors.Tests.Support;

/// <summary>
/// The cluster as operators run it, on loopback: three service processes (`PresenceActors.Host run --config`, the
/// seed's application.properties format) joined through static seed nodes and sharing one PostgreSQL database, the
/// Graph and UC simulators in the test process, and a TCP pass-through in front of the nodes' webhook and internal API
/// ports playing HAProxy (any node takes any request; a dead node is skipped).
/// Each node gets exactly the environment docker-compose.yml gives its container (<see cref="ComposeEnvironment"/>):
/// the operator's three secrets, the PostgreSQL store, the cluster keys; only the compose network's names, ports and the
/// container's own /data are replaced by loopback stand-ins (<see cref="NetworkStandIns"/>). The properties file holds
/// what an operator writes into deploy/application.properties for a site (tenant, technical users, URLs) and the
/// ports docker would map; no file is shared between nodes.
/// </summary>
internal sealed class ClusterHarness : IAsyncDisposable
{
    public const string ClientId = "7c1f2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b";
    private const string Secret = "cluster-secret~0123456789abcdef";
    private readonly string _folder;
    private readonly List<(string Username, string Password)> _accounts;
    private string[] _siteProperties = [];

    private ClusterHarness(string folder, GraphSimulator graph, UcSimulator uc, PostgresDatabase database, List<(string, string)> accounts,
        Dictionary<string, string> variables)
    {
        _folder = folder;
        Graph = graph;
        Uc = uc;
        Database = database;
        _accounts = accounts;
        OperatorVariables = variables;
    }

    /// <summary>The .env an operator writes beside docker-compose.yml: its secrets, the same for every node.</summary>
    public Dictionary<string, string> OperatorVariables { get; }

    /// <summary>The folder the harness writes its own files to (the simulators' certificates and each node's properties).</summary>
    public string Folder => _folder;

    /// <summary>
    /// The compose environment variables whose values the harness replaces, each by the loopback equivalent: the
    /// compose network's host names and ports, the database it reaches as "postgres", the container's own /data.
    /// </summary>
    public static readonly IReadOnlySet<string> NetworkStandIns = new HashSet<string>
    {
        "presence__persistence__connectionString", "presence__cluster__hostname", "presence__cluster__publicHostname", "presence__cluster__port",
        "presence__cluster__seedNodes", "presence__dataFolder", "presence__admin__address",
    };

    /// <summary>The environment of a node: docker-compose.yml's for the compose service, with <see cref="NetworkStandIns"/> replaced.</summary>
    public Dictionary<string, string> ComposeEnvironment(Node node, string seeds)
    {
        var service = $"node{node.Index % 3 + 1}";
        var environment = ComposeFile.Environment(service, OperatorVariables);
        environment["presence__persistence__connectionString"] = Database.ConnectionString;
        environment["presence__cluster__hostname"] = "127.0.0.1";
        environment["presence__cluster__publicHostname"] = "127.0.0.1";
        environment["presence__cluster__port"] = node.Remoting.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["presence__cluster__seedNodes"] = seeds;
        environment["presence__dataFolder"] = Path.Combine(_folder, $"data{node.Index}");
        environment["presence__admin__address"] = "127.0.0.1";
        return environment;
    }

    public GraphSimulator Graph { get; }

    public UcSimulator Uc { get; }

    public PostgresDatabase Database { get; }

    public List<Node> Nodes { get; } = [];

    public TcpPassThrough WebhookProxy { get; private set; } = null!;

    public TcpPassThrough ApiProxy { get; private set; } = null!;

    /// <summary>The relays between the nodes' remoting, when the harness was started with them.</summary>
    public RemotingRelays? Relays { get; private set; }

    /// <summary>One service process and its ports.</summary>
    public sealed class Node(int index, int webhook, int api, int admin, int remoting, string config)
    {
        public int Index { get; } = index;

        public int Webhook { get; } = webhook;

        public int Api { get; } = api;

        public int Admin { get; } = admin;

        public int Remoting { get; } = remoting;

        public string Config { get; } = config;

        /// <summary>The port other nodes reach this one at: its relay's when the harness relays remoting, else <see cref="Remoting"/>.</summary>
        public int? Public { get; set; }

        public string Address => $"akka.tcp://presence@127.0.0.1:{Public ?? Remoting}";

        public Process? Process { get; set; }

        public StringBuilder Output { get; } = new();

        /// <summary>More environment variables for the node's process (over the compose environment).</summary>
        public Dictionary<string, string> Environment { get; } = [];

        /// <summary>The environment docker-compose.yml gives the node (see <see cref="ClusterHarness.ComposeEnvironment"/>).</summary>
        public Dictionary<string, string> ComposeEnvironment { get; set; } = [];

        /// <summary>presence.admin.token: every admin call sends it.</summary>
        public string? AdminToken => ComposeEnvironment.GetValueOrDefault("presence__admin__token");

        public bool Running => Process is { HasExited: false };

        /// <summary>How assertion messages show a node: never its environment, which holds the operator's secrets.</summary>
        public override string ToString() => $"node {Index} ({Address})";
    }

    /// <param name="siteProperties">More lines for every node's properties file (site settings, e.g. the session's refresh).</param>
    /// <param name="relayRemoting">Every connection between nodes through <see cref="Relays"/>, which can partition the cluster.</param>
    public static async Task<ClusterHarness> StartAsync(int nodes, int technicalAccounts, bool start = true, bool relayRemoting = false, params string[] siteProperties)
    {
        var folder = Directory.CreateTempSubdirectory("presence-cluster-").FullName;
        var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions());
        graph.Tenant.AddApplication(ClientId, Secret);
        var accounts = new List<(string, string)>();
        for (var i = 1; i <= technicalAccounts; i++)
        {
            var password = $"Cluster-{i}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4))}";
            graph.Tenant.AddUser($"cluster-tech{i}@contoso.com", password: password, technical: true);
            accounts.Add(($"cluster-tech{i}@contoso.com", password));
        }

        var variables = ComposeFile.OperatorVariables();
        // The UC back end is configured with the same key the operator gave the compose file.
        var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApiKey = variables["PRESENCE_API_KEY"] });
        var database = await PostgresDatabase.CreateAsync();
        var harness = new ClusterHarness(folder, graph, uc, database, accounts, variables) { _siteProperties = siteProperties };
        harness.WriteSimulatorCertificates();
        for (var i = 0; i < nodes; i++)
            harness.Nodes.Add(new Node(i, TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), Path.Combine(folder, $"node{i}.properties")));
        if (relayRemoting)
        {
            harness.Relays = new RemotingRelays(harness.Nodes.ToDictionary(n => n.Index, n => n.Remoting));
            foreach (var node in harness.Nodes)
            {
                node.Public = harness.Relays.PortOf(node.Index);
                node.Environment["presence__cluster__publicPort"] = node.Public.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        harness.WebhookProxy = TcpPassThrough.Start(() => harness.Nodes.Where(n => n.Running).Select(n => n.Webhook).ToList());
        harness.ApiProxy = TcpPassThrough.Start(() => harness.Nodes.Where(n => n.Running).Select(n => n.Api).ToList());
        uc.ServiceApi = new Uri($"https://127.0.0.1:{harness.ApiProxy.Port}/");
        foreach (var node in harness.Nodes)
            harness.WriteConfig(node);
        if (!start)
            return harness;
        await Task.WhenAll(harness.Nodes.Select(n => harness.StartNodeAsync(n)));
        if (nodes > 0)
            await harness.WaitOneClusterAsync();
        return harness;
    }

    /// <summary>
    /// Waits until every running node sees the same members, all of them Up and reachable, with the same oldest member
    /// (where the singletons run): one cluster, not islands.
    /// </summary>
    public async Task WaitOneClusterAsync()
    {
        var running = Nodes.Where(n => n.Running).ToList();
        await Eventually.TrueAsync(async () =>
        {
            JsonNode[] views;
            try
            {
                views = await Task.WhenAll(running.Select(n => AdminAsync(n, "cluster")));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false; // a node busy after its start answers on a later look
            }

            var expected = string.Join(",", running.Select(n => n.Address).Order(StringComparer.Ordinal));
            return views.All(v => string.Join(",", v["members"]!.AsArray().Select(m => m!["address"]!.GetValue<string>()).Order(StringComparer.Ordinal)) == expected
                                  && v["members"]!.AsArray().All(m => m!["status"]!.GetValue<string>() == "Up" && m["reachable"]!.GetValue<bool>()))
                   && views.Select(v => v["oldest"]?.GetValue<string>()).Distinct().Count() == 1;
        }, TimeSpan.FromMinutes(1), $"{running.Count} nodes in one cluster", () => ViewsAsync().GetAwaiter().GetResult());
    }

    /// <summary>
    /// For failure messages: each running node's log tail first, then what each node sees of the cluster and what the
    /// harness did, last, where a truncated report still shows them.
    /// </summary>
    public string Report() =>
        string.Join("\n", Nodes.Where(n => n.Running).Select(n => $"--- node {n.Index}:\n{Tail(n)}")) +
        "\n--- membership as each node sees it:\n" + ViewsAsync().GetAwaiter().GetResult();

    /// <summary>What each running node sees of the cluster, a line each, and what the harness did: for failure messages.</summary>
    public async Task<string> ViewsAsync()
    {
        var lines = new List<string>();
        foreach (var node in Nodes.Where(n => n.Running))
        {
            try
            {
                var view = await AdminAsync(node, "cluster");
                var members = string.Join(", ", view["members"]!.AsArray().Select(m =>
                    $"{m!["address"]!.GetValue<string>()[^5..]} {m["status"]} age {m["age"]?.ToString() ?? "-"}{(m["reachable"]!.GetValue<bool>() ? "" : " UNREACHABLE")}"));
                lines.Add($"node {node.Index} (:{node.Remoting}) sees leader {view["leader"]}, oldest {view["oldest"]}: {members}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                lines.Add($"node {node.Index} (:{node.Remoting}): {e.Message}");
            }
        }

        lock (Events)
            lines.AddRange(Events.Select(e => "harness: " + e));
        return string.Join("\n", lines);
    }

    /// <summary>The simulators' TLS certificates, which stand in for the public CAs Graph and the front ends are trusted by.</summary>
    private void WriteSimulatorCertificates()
    {
        File.WriteAllText(Path.Combine(_folder, "graph.pem"), SimulatorCertificate.ToPem(Graph.Certificate));
        File.WriteAllText(Path.Combine(_folder, "uc.pem"), SimulatorCertificate.ToPem(Uc.Certificate));
    }

    /// <summary>
    /// Adds a node with its own seed list and extra configuration lines, not started (see <see cref="StartNodeAsync"/>
    /// and <see cref="Launch"/>).
    /// </summary>
    public Node AddNode(IEnumerable<string> seedNodes, params string[] extra)
    {
        var node = new Node(Nodes.Count, TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), Path.Combine(_folder, $"node{Nodes.Count}.properties"));
        Nodes.Add(node);
        WriteConfig(node, string.Join(",", seedNodes.Select(s => s == "self" ? node.Address : s)), extra);
        return node;
    }

    /// <summary>Every node a seed node, as the compose file has it: then no two clusters can each hold a majority.</summary>
    private void WriteConfig(Node node) => WriteConfig(node, string.Join(",", Nodes.Select(n => n.Address)), _siteProperties);

    private void WriteConfig(Node node, string seeds, string[] extra)
    {
        node.ComposeEnvironment = ComposeEnvironment(node, seeds);
        // What an operator fills in for a site, and the ports docker would map (all nodes share one host here).
        var lines = new List<string>
        {
            $"azure.activedirectory.tenantId = {Graph.Tenant.TenantId}",
            $"azure.activedirectory.clientId = {ClientId}",
            $"azure.activedirectory.clientSecret = {Secret}",
            $"webhook.receiver = https://127.0.0.1:{WebhookProxy.Port}/graph/listen",
            $"webhook.listener.http.url = {string.Join(",", Uc.FrontEndUrls)}",
            $"presence.graph.authorityHost = {Graph.AuthorityHost}",
            $"presence.graph.baseUrl = {Graph.GraphUrl}",
            $"presence.graph.openIdConfiguration = {Graph.OpenIdConfigurationUrl}",
            $"presence.tls.trustedCertificates = {Path.Combine(_folder, "graph.pem")},{Path.Combine(_folder, "uc.pem")}",
            $"presence.webhook.port = {node.Webhook}",
            $"presence.api.port = {node.Api}",
            $"presence.admin.port = {node.Admin}",
        };
        for (var i = 0; i < _accounts.Count; i++)
        {
            lines.Add($"azure.activedirectory.technical.users[{i}].username = {_accounts[i].Username}");
            lines.Add($"azure.activedirectory.technical.users[{i}].password = {_accounts[i].Password}");
        }

        lines.AddRange(extra);
        File.WriteAllLines(node.Config, lines);
    }

    /// <summary>
    /// Starts the node's process and waits until its admin endpoint says it is ready. Like the compose file's
    /// <c>restart: unless-stopped</c>, a node that exits before it is ready (it gives up joining after 30 s) is started
    /// again, at most twice; every such restart is counted in <see cref="SupervisorRestarts"/> and written to the output.
    /// </summary>
    public async Task StartNodeAsync(Node node, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(150));
        for (var attempt = 1; ; attempt++)
        {
            var process = Launch(node);
            Log($"node {node.Index} (:{node.Remoting}) started, attempt {attempt}");
            await Eventually.TrueAsync(async () => !node.Running || await ReadyAsync(node), deadline - DateTime.UtcNow, $"node {node.Index} ready",
                () => Tail(node));
            if (node.Running)
                return;
            if (attempt == 3)
                throw new InvalidOperationException($"node {node.Index} exited {process.ExitCode} before it was ready, {attempt} times: {Tail(node)}");
            Interlocked.Increment(ref _supervisorRestarts);
            Log($"node {node.Index} exited {process.ExitCode} before it was ready; started again, as the supervisor would");
        }
    }

    /// <summary>Nodes started again because they exited before they were ready (see <see cref="StartNodeAsync"/>).</summary>
    public int SupervisorRestarts => _supervisorRestarts;

    private int _supervisorRestarts;

    /// <summary>What the harness itself did, in order, for the test's output.</summary>
    public List<string> Events { get; } = [];

    private void Log(string line)
    {
        lock (Events)
            Events.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
    }

    /// <summary>Starts the node's process once (no supervisor), its output collected in <see cref="Node.Output"/>.</summary>
    public Process Launch(Node node)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "PresenceActors.Host.dll");
        var start = new ProcessStartInfo("dotnet", [host, "run", "--config", node.Config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        foreach (var (name, value) in node.ComposeEnvironment)
            start.Environment[name] = value;
        // Not configuration: the runtime's GC mode for a 2-core test machine, and how much the harness reads of the logs.
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        // Akka's membership story (joining, moving to Up, leaving, removal) is logged at Information, each line with its time.
        start.Environment["Logging__LogLevel__Akka.Actor.ActorSystem"] = "Information";
        start.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        start.Environment["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true";
        foreach (var (name, value) in node.Environment)
            start.Environment[name] = value;
        lock (node.Output)
            node.Output.AppendLine($"=== {DateTime.UtcNow:HH:mm:ss.fff} node {node.Index} started");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (node.Output) node.Output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (node.Output) node.Output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        node.Process = process;
        return process;
    }

    public static async Task<bool> ReadyAsync(Node node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            return (await http.GetAsync($"http://127.0.0.1:{node.Admin}/healthz/ready")).IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public static string Tail(Node node)
    {
        lock (node.Output)
        {
            var text = node.Output.ToString();
            // The lines that tell a membership story first, then the end of the output.
            var story = string.Join("\n", text.Split('\n').Where(l => l.StartsWith("===", StringComparison.Ordinal)
                                                                      || (!l.Contains("Health check", StringComparison.Ordinal) && !l.Contains("dead letters", StringComparison.Ordinal)
                                                                          && (l.Contains("join", StringComparison.OrdinalIgnoreCase) || l.Contains("shut", StringComparison.OrdinalIgnoreCase)
                                                                              || l.Contains("singleton", StringComparison.OrdinalIgnoreCase) || l.Contains("oldest", StringComparison.OrdinalIgnoreCase)
                                                                              || l.Contains("welcome", StringComparison.OrdinalIgnoreCase) || l.Contains("Started up", StringComparison.Ordinal)
                                                                              || l.Contains("quarantin", StringComparison.OrdinalIgnoreCase) || l.Contains("leav", StringComparison.OrdinalIgnoreCase)
                                                                              || l.Contains("seed", StringComparison.OrdinalIgnoreCase) || l.Contains("moving", StringComparison.OrdinalIgnoreCase)
                                                                              || l.Contains("cluster-not-formed", StringComparison.Ordinal)))).TakeLast(40));
            return $"{story}\n...\n{(text.Length > 2000 ? text[^2000..] : text)}";
        }
    }

    /// <summary>
    /// The surviving nodes' membership and hand-over lines since <paramref name="since"/> (output lengths taken then),
    /// oldest first: where the seconds of a fail-over go.
    /// </summary>
    public IEnumerable<string> MembershipStory(Dictionary<Node, int> since)
    {
        string[] markers = ["unreachable", "UNREACHABLE", "SBR", "Downing", "downing", "Down", "Removed", "removing", "ingress-taken-over", "Singleton", "singleton", "Coordinator", "coordinator"];
        foreach (var (node, length) in since.Where(s => s.Key.Running))
        {
            string text;
            lock (node.Output)
                text = node.Output.ToString(length, node.Output.Length - length);
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (markers.Any(lines[i].Contains))
                    yield return $"node {node.Index}: {lines[i].Trim()} {(i + 1 < lines.Length ? lines[i + 1].Trim() : "")}";
            }
        }
    }

    /// <summary>How much output each node has written so far (to read what follows with <see cref="MembershipStory"/>).</summary>
    public Dictionary<Node, int> OutputLengths()
    {
        var lengths = new Dictionary<Node, int>();
        foreach (var node in Nodes)
        {
            lock (node.Output)
                lengths[node] = node.Output.Length;
        }

        return lengths;
    }

    /// <summary>
    /// <paramref name="count"/> users in Teams and UC, registered by the UC back end (sent again while refused, as it
    /// does) until every one is watched by a subscription.
    /// </summary>
    public async Task<List<(string Uc, string Teams)>> AddWatchedUsersAsync(int count, string prefix)
    {
        var users = new List<(string Uc, string Teams)>();
        for (var i = 0; i < count; i++)
        {
            var teams = Graph.Tenant.AddUser($"{prefix}{i:D5}@contoso.com");
            Uc.AddUser($"uc-{prefix}{i:D5}");
            users.Add(($"uc-{prefix}{i:D5}", teams.Id));
        }

        await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (u, _) =>
        {
            while ((await Uc.RegisterAsync(u.Uc, u.Teams)).Status != HttpStatusCode.OK)
                await LastsAsync(TimeSpan.FromSeconds(1));
        });
        await Eventually.TrueAsync(() => users.All(u => Graph.Tenant.SubscriptionsWatching(u.Teams).Any()), TimeSpan.FromMinutes(3), $"all {count} users watched");
        return users;
    }

    /// <summary>What a kill cost: from the kill to the first affected user's change on UC, and to all of them.</summary>
    public sealed record KillMeasure(TimeSpan First, TimeSpan All, IReadOnlyList<(string Uc, string Teams)> Affected, IReadOnlyList<string> Story);

    /// <summary>
    /// kill -9 of <paramref name="victim"/>, then a Teams call for up to 20 of the <paramref name="candidates"/> whose
    /// actors lived there, until every one is Busy on UC; their calls end again afterwards. The survivors' membership
    /// lines since the kill come with it (<see cref="MembershipStory"/>).
    /// </summary>
    public async Task<KillMeasure> KillAndMeasureAsync(Node victim, IEnumerable<(string Uc, string Teams)> candidates, Func<IReadOnlyList<(string Uc, string Teams)>, string>? diagnose = null)
    {
        var affected = new List<(string Uc, string Teams)>();
        var holders = new Dictionary<int, int>();
        foreach (var u in candidates)
        {
            var holder = (await HolderOfAsync(u.Teams)).Index;
            holders[holder] = holders.GetValueOrDefault(holder) + 1;
            if (holder == victim.Index)
                affected.Add(u);
            if (affected.Count == 20)
                break;
        }

        if (affected.Count == 0)
        {
            throw new InvalidOperationException($"none of the candidates is held by node {victim.Index}; holders: " +
                                                string.Join(", ", holders.OrderBy(h => h.Key).Select(h => $"node {h.Key} {h.Value}")));
        }

        var lengths = OutputLengths();
        var clock = Stopwatch.StartNew();
        Kill(victim);
        foreach (var u in affected)
            Graph.Tenant.SetClient(u.Teams, TeamsClientState.InACall);
        TimeSpan? first = null;
        await Eventually.TrueAsync(() =>
        {
            if (affected.Any(u => Uc.User(u.Uc)!.Status == "Busy"))
                first ??= clock.Elapsed;
            return affected.All(u => Uc.User(u.Uc)!.Status == "Busy");
        }, TimeSpan.FromMinutes(2), $"the users of node {victim.Index} synced after its death", diagnose is null ? null : () => diagnose(affected));
        var all = clock.Elapsed;
        var story = MembershipStory(lengths).ToList();
        foreach (var u in affected)
            Graph.Tenant.SetClient(u.Teams, TeamsClientState.Available);
        await Eventually.TrueAsync(() => affected.All(u => Uc.User(u.Uc)!.Status == "Available"), TimeSpan.FromMinutes(1), "and restored");
        return new KillMeasure(first!.Value, all, affected, story);
    }

    /// <summary>kill -9: no goodbye, the cluster finds out by itself.</summary>
    public static void Kill(Node node)
    {
        node.Process!.Kill(entireProcessTree: true);
        node.Process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd or docker stop sends it: the node leaves the cluster and exits.</summary>
    public static async Task TerminateAsync(Node node, TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", node.Process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill!.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(within);
        await node.Process.WaitForExitAsync(deadline.Token);
    }

    /// <summary>Waits until the live nodes no longer list <paramref name="gone"/> (downed or left, and removed).</summary>
    public async Task WaitRemovedAsync(Node gone)
    {
        await Eventually.TrueAsync(async () =>
        {
            foreach (var node in Nodes.Where(n => n.Running && n != gone))
            {
                var members = (await AdminAsync(node, "cluster"))["members"]!.AsArray();
                if (members.Any(m => m!["address"]!.GetValue<string>() == gone.Address))
                    return false;
            }

            return true;
        }, TimeSpan.FromMinutes(2), $"node {gone.Index} removed from the cluster", () => ViewsAsync().GetAwaiter().GetResult());
    }

    public async Task<JsonNode> AdminAsync(Node node, string path, HttpMethod? method = null)
    {
        using var http = AdminClient(node);
        using var response = await http.SendAsync(new HttpRequestMessage(method ?? HttpMethod.Get, $"http://127.0.0.1:{node.Admin}/admin/{path}"));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{method ?? HttpMethod.Get} /admin/{path} on node {node.Index}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }

    /// <summary>An HTTP client for the node's admin port, sending its presence.admin.token.</summary>
    public static HttpClient AdminClient(Node node)
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        if (node.AdminToken is { } token)
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>The node the cluster's oldest Up member is: where the subscription-pool singleton runs.</summary>
    public async Task<Node> SingletonNodeAsync()
    {
        var live = Nodes.First(n => n.Running);
        var data = await AdminAsync(live, "status/data");
        var host = data["cluster"]!["singletonHost"]!.GetValue<string>();
        return Nodes.Single(n => n.Address == host);
    }

    /// <summary>
    /// The running node other than <paramref name="except"/> that holds most of <paramref name="teamsUserIds"/>' actors
    /// (a node just started again holds few or none yet: rebalancing moves shards to it step by step).
    /// </summary>
    public async Task<Node> BusiestHolderAsync(IEnumerable<string> teamsUserIds, Node except)
    {
        var held = new Dictionary<int, int>();
        foreach (var id in teamsUserIds)
        {
            var holder = (await HolderOfAsync(id)).Index;
            held[holder] = held.GetValueOrDefault(holder) + 1;
        }

        return Nodes.Where(n => n.Running && n != except).MaxBy(n => held.GetValueOrDefault(n.Index))!;
    }

    /// <summary>
    /// Which node's shard region holds the user's actor. A node answers with the region's address: another node's
    /// (akka.tcp://presence@host:port), its own (akka://presence, no host), or none it knows yet (akka://all-systems),
    /// in which case the next node is asked. While a shard is handed over (rebalancing to a node just started again)
    /// no region knows it for a moment, so the question is asked again until one does.
    /// </summary>
    public async Task<Node> HolderOfAsync(string teamsUserId)
    {
        Node? found = null;
        var poked = false;
        var answers = new List<string>();
        await Eventually.TrueAsync(async () =>
        {
            answers.Clear();
            foreach (var asking in Nodes.Where(n => n.Running))
            {
                var location = await AdminAsync(asking, $"sharding/locate?entity={teamsUserId}");
                var region = location["region"]?.GetValue<string>() ?? "";
                answers.Add($"node {asking.Index}: '{region}'");
                found = region == $"akka://{PresenceActors.Cluster.PresenceClusterOptions.SystemName}"
                    ? asking
                    : Nodes.FirstOrDefault(n => n.Address == region);
                if (found is not null)
                    return true;
            }

            // Nobody knows: the user's shard may never have been needed (actors start on a user's first event, so a
            // shard of users without one has no home yet: docs/scale.md). Asking for the user's state starts its actor.
            if (!poked && Nodes.FirstOrDefault(n => n.Running) is { } any)
            {
                poked = true;
                await AdminAsync(any, $"presence/users/{teamsUserId}");
            }

            return false;
        }, TimeSpan.FromSeconds(30), $"a node knows where {teamsUserId} lives", () => string.Join("; ", answers));
        return found!;
    }

    /// <summary>Waits out a fault's duration on a timer the test awaits (no sleeping thread).</summary>
    public static async Task LastsAsync(TimeSpan duration)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var end = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < end && await timer.WaitForNextTickAsync())
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Where(n => n.Running))
            Kill(node);
        WebhookProxy?.Dispose();
        ApiProxy?.Dispose();
        Relays?.Dispose();
        await Uc.DisposeAsync();
        await Graph.DisposeAsync();
        await Database.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A TCP pass-through on loopback to whichever backends are alive (HAProxy's part in front of the Facade nodes).</summary>
internal sealed class TcpPassThrough : IDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<IReadOnlyList<int>> _backends;
    private readonly CancellationTokenSource _stop = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TcpClient, TcpClient> _open = new();
    private int _next;

    private TcpPassThrough(TcpListener listener, Func<IReadOnlyList<int>> backends)
    {
        _listener = listener;
        _backends = backends;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static TcpPassThrough Start(Func<IReadOnlyList<int>> backends)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var proxy = new TcpPassThrough(listener, backends);
        _ = proxy.AcceptAsync();
        return proxy;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        using (client)
        {
            var backends = _backends();
            TcpClient? server = null;
            for (var attempt = 0; attempt < backends.Count && server is null; attempt++)
            {
                var port = backends[(int)((uint)Interlocked.Increment(ref _next) % backends.Count)];
                var candidate = new TcpClient();
                try
                {
                    await candidate.ConnectAsync(IPAddress.Loopback, port, _stop.Token);
                    server = candidate;
                }
                catch (Exception) when (!_stop.IsCancellationRequested)
                {
                    candidate.Dispose();
                }
            }

            if (server is null)
                return;
            _open[client] = server;
            using (server)
            {
                var a = client.GetStream();
                var b = server.GetStream();
                try
                {
                    await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token));
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
                {
                    // Closed by DropConnections.
                }
                finally
                {
                    _open.TryRemove(client, out _);
                }
            }
        }
    }

    /// <summary>
    /// Closes every open connection (HAProxy reloaded, or its connections recycled): clients connect again, and the new
    /// connections go to the next backends in turn.
    /// </summary>
    public void DropConnections()
    {
        foreach (var (client, server) in _open)
        {
            client.Close();
            server.Close();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
