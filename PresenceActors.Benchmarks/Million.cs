using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Npgsql;
using PresenceActors.Tests.Support;

namespace PresenceActors.Benchmarks;

internal sealed record MillionResult(int Users, int Accounts, double RegisteredSeconds, double AllWatchedSeconds, int PutAttempts, double KilledAtSeconds,
    string Killed, IReadOnlyList<double> RssMegabytes, long PostgresBytes, int Subscriptions, int WatchedTwice);

/// <summary>
/// `--only million`: a cluster of three nodes on PostgreSQL on loopback, as the compose file configures them, with one
/// technical account per 650 users; the UC back end's full list of every user (PUT /api/v1/users) through the
/// internal API's address in front of all nodes; kill -9 of a node that holds no singleton once a third of the users
/// are watched, then that node started again. Nothing may be lost: in the end every user is watched by exactly one
/// subscription. Measured: the time until all are watched, each node's RSS after settling, the database's size.
/// </summary>
internal static class Million
{
    public static async Task<MillionResult> RunAsync(int users)
    {
        var accounts = (int)Math.Ceiling(users / 650.0);
        // Three nodes, PostgreSQL and both simulators holding a million users share two cores: the nodes' heartbeats wait
        // behind that load, so the heartbeat pause is an operator's choice for such a host (docs/scale.md, "A million users").
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: accounts, siteProperties: [.. MillionSite]);
        try
        {
            return await RunOnAsync(cluster, users, accounts);
        }
        finally
        {
            // Each node's output (every incarnation), for where the time went: the harness shows only a tail on failure.
            foreach (var node in cluster.Nodes)
            {
                lock (node.Output)
                    File.WriteAllText(Path.Combine(Path.GetTempPath(), $"million-node{node.Index}.log"), node.Output.ToString());
            }
        }
    }

    private static async Task<MillionResult> RunOnAsync(ClusterHarness cluster, int users, int accounts)
    {
        var list = new List<object>(users);
        for (var i = 0; i < users; i++)
        {
            var teams = cluster.Graph.Tenant.AddUser($"m{i:D7}@contoso.com");
            cluster.Uc.AddUser($"uc-m{i:D7}");
            list.Add(new { ucUserId = $"uc-m{i:D7}", teamsUser = teams.Id });
        }

        Console.Error.WriteLine($"million: 3 nodes, {accounts} accounts, {users} users created in the simulators");
        var watch = Stopwatch.StartNew();
        var attempts = 0;
        var registered = TimeSpan.Zero;
        var put = Task.Run(async () =>
        {
            // The UC back end sends the list again when the node it reached is killed (the list is idempotent).
            using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } })
            {
                Timeout = TimeSpan.FromMinutes(30),
            };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", cluster.OperatorVariables["PRESENCE_API_KEY"]);
            while (true)
            {
                attempts++;
                try
                {
                    using var response = await http.PutAsJsonAsync($"https://127.0.0.1:{cluster.ApiProxy.Port}/api/v1/users", list);
                    if (response.IsSuccessStatusCode)
                    {
                        registered = watch.Elapsed;
                        return;
                    }

                    Console.Error.WriteLine($"million: the list answered {(int)response.StatusCode} at {watch.Elapsed.TotalSeconds:0} s; sent again");
                }
                catch (HttpRequestException e)
                {
                    Console.Error.WriteLine($"million: the list failed at {watch.Elapsed.TotalSeconds:0} s ({e.Message}); sent again");
                }

                await ClusterHarness.LastsAsync(TimeSpan.FromSeconds(5));
            }
        });

        // kill -9 of a node holding no singleton, once a third are watched; started again as its supervisor would.
        await UntilAsync(watched => watched >= users / 3 || put.IsFaulted, TimeSpan.FromMinutes(30), cluster);
        var singleton = await cluster.SingletonNodeAsync();
        var victim = cluster.Nodes.First(n => n.Running && n != singleton);
        var killedAt = watch.Elapsed;
        ClusterHarness.Kill(victim);
        Console.Error.WriteLine($"million: killed node {victim.Index} at {killedAt.TotalSeconds:0} s with {Watched(cluster)} watched");
        await cluster.WaitRemovedAsync(victim);
        await cluster.StartNodeAsync(victim);

        await put;
        await UntilAsync(watched => watched >= users, TimeSpan.FromMinutes(40), cluster);
        var allWatched = watch.Elapsed;
        Console.Error.WriteLine($"million: all {users} watched at {allWatched.TotalSeconds:0} s");

        await ClusterHarness.LastsAsync(TimeSpan.FromSeconds(30)); // settle before measuring memory
        var rss = cluster.Nodes.Where(n => n.Running).Select(n => Rss(n.Process!.Id) / 1e6).ToList();
        long size;
        await using (var connection = new NpgsqlConnection(cluster.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_database_size(current_database())", connection);
            size = (long)(await command.ExecuteScalarAsync())!;
        }

        var subscriptions = cluster.Graph.Tenant.ListSubscriptions();
        var twice = subscriptions.SelectMany(s => s.UserIds).GroupBy(id => id, StringComparer.OrdinalIgnoreCase).Count(g => g.Count() > 1);
        return new MillionResult(users, accounts, registered.TotalSeconds, allWatched.TotalSeconds, attempts, killedAt.TotalSeconds,
            $"node {victim.Index}", rss, size, subscriptions.Count, twice);
    }

    /// <summary>How long the number watched may stay the same before the run is taken as stalled (its nodes' logs kept).</summary>
    private static readonly TimeSpan StallLimit = TimeSpan.FromMinutes(6);

    /// <summary>The site settings of the run (printed with its figures).</summary>
    public static readonly string[] MillionSite = ["presence.cluster.heartbeatPause = 00:00:10", "presence.cluster.stableAfter = 00:00:05"];

    private static int Watched(ClusterHarness cluster) =>
        cluster.Graph.Tenant.ListSubscriptions().SelectMany(s => s.UserIds).Distinct(StringComparer.OrdinalIgnoreCase).Count();

    private static long Rss(int pid)
    {
        var line = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    private static async Task UntilAsync(Func<int, bool> condition, TimeSpan limit, ClusterHarness cluster)
    {
        // Counting the watched users walks a million ids in the simulator: every 5 s, with progress every 30 s.
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        var ticks = 0;
        var (last, since) = (-1, Stopwatch.StartNew());
        // Counted once per tick: the condition, the stall check and the progress line share the count.
        for (var now = Watched(cluster); !condition(now); now = Watched(cluster))
        {
            if (watch.Elapsed > limit)
                throw new TimeoutException($"Not done after {limit}.");
            if (now != last)
                (last, since) = (now, Stopwatch.StartNew());
            else if (since.Elapsed > StallLimit)
                throw new TimeoutException($"Stalled: {last} watched for {StallLimit}.");
            if (++ticks % 6 == 0)
            {
                var rss = string.Join(" / ", cluster.Nodes.Select(n => n.Running ? $"{Rss(n.Process!.Id) / 1e6:0}" : "-"));
                Console.Error.WriteLine($"million: {now} watched, {cluster.Graph.Tenant.ListSubscriptions().Count} subscriptions, RSS {rss} MB");
            }

            await timer.WaitForNextTickAsync();
        }
    }
}
