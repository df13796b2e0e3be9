using System.Diagnostics;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// Three service processes on loopback sharing PostgreSQL, 3,000 users, 300 calls in progress in both directions:
/// kill -9 of the singleton's node and of a shard node, a rolling restart under load, PostgreSQL stopped for 30 s.
/// Runs alone (it stops the tests' PostgreSQL server for a while).
/// </summary>
[Collection(Alone.Name)]
public class ClusterFailoverTests(ITestOutputHelper output)
{
    private const int UserCount = 3_000;
    private const int CallsEachWay = 150;
    private static readonly TimeSpan SessionRefresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SessionTtl = TimeSpan.FromMinutes(5);


    private sealed record User(string UcUserId, string TeamsId);

    [Fact]
    public async Task Cluster_survives_kills_a_rolling_restart_and_a_database_outage_with_nothing_lost()
    {
        // Our Teams sessions are kept alive every 30 s (instead of 4 minutes): within the kills' time each one is refreshed
        // several times, also by the actors restarted elsewhere after a kill.
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 5, siteProperties: $"presence.session.refresh = {SessionRefresh}");
        var graph = cluster.Graph;
        var uc = cluster.Uc;
        var users = new List<User>();
        for (var i = 0; i < UserCount; i++)
        {
            var teams = graph.Tenant.AddUser($"c{i:D4}@contoso.com");
            uc.AddUser($"uc-c{i:D4}", i < CallsEachWay ? "Meeting" : "Available");
            users.Add(new User($"uc-c{i:D4}", teams.Id));
        }

        var clock = Stopwatch.StartNew();
        await ParallelAsync(users, async u =>
        {
            var (status, body) = await uc.RegisterAsync(u.UcUserId, u.TeamsId);
            Assert.True(status == System.Net.HttpStatusCode.OK, $"{u.UcUserId}: {status} {body}");
            await uc.ReportAsync(uc.User(u.UcUserId)!);
        });
        await Eventually.TrueAsync(() => Watched(graph) == UserCount, TimeSpan.FromMinutes(3), "all 3,000 users watched", () => $"{Watched(graph)} watched");
        output.WriteLine($"3 nodes up, {UserCount} users registered and watched after {clock.Elapsed.TotalSeconds:0} s");
        AssertOneSubscriptionPerAccount(graph);

        // 150 Teams calls (UC shows Busy) and 150 UC calls (Teams shows our session) in progress.
        var teamsCalls = users.Take(CallsEachWay).ToList();
        var ucCalls = users.Skip(CallsEachWay).Take(CallsEachWay).ToList();
        foreach (var u in teamsCalls)
            graph.Tenant.SetClient(u.TeamsId, TeamsClientState.InACall);
        await ParallelAsync(ucCalls, u => uc.SetPhoneAsync(u.UcUserId, true));
        var callsStarted = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => teamsCalls.All(u => uc.User(u.UcUserId)!.Status == "Busy") && ucCalls.All(u => HasSession(graph, u)),
            TimeSpan.FromMinutes(2), "300 calls mirrored", () => $"{teamsCalls.Count(u => uc.User(u.UcUserId)!.Status == "Busy")} UC busy, {ucCalls.Count(u => HasSession(graph, u))} Teams sessions");

        // kill -9 of the node the subscription pool's singleton runs on.
        var singleton = await cluster.SingletonNodeAsync();
        var idle = users.Skip(2 * CallsEachWay).ToList();
        var failover = await KillAndMeasureAsync(cluster, singleton, idle.Take(400).ToList());
        output.WriteLine($"kill -9 of node {singleton.Index} (singleton): first notification processed for one of its users {failover.First.TotalSeconds:0.0} s after the kill, all 20 {failover.All.TotalSeconds:0.0} s");
        await Eventually.TrueAsync(async () => (await cluster.SingletonNodeAsync()).Index != singleton.Index, TimeSpan.FromMinutes(1), "the singleton moved");
        await cluster.WaitRemovedAsync(singleton);
        AssertUcCallsShownInTeams(graph, ucCalls, $"after the kill of node {singleton.Index}");
        await cluster.StartNodeAsync(singleton);
        await cluster.WaitOneClusterAsync();

        // kill -9 of a node holding user shards, not the singleton's (the node just started again holds none yet).
        var newSingleton = await cluster.SingletonNodeAsync();
        var sample = idle.Skip(400).Take(400).ToList();
        var shardNode = await cluster.BusiestHolderAsync(sample.Take(60).Select(u => u.TeamsId), except: newSingleton);
        var secondKill = DateTimeOffset.UtcNow;
        var failover2 = await KillAndMeasureAsync(cluster, shardNode, sample);
        output.WriteLine($"kill -9 of node {shardNode.Index} (shards): first notification processed for one of its users {failover2.First.TotalSeconds:0.0} s after the kill, all 20 {failover2.All.TotalSeconds:0.0} s");
        await cluster.WaitRemovedAsync(shardNode);
        AssertUcCallsShownInTeams(graph, ucCalls, $"after the kill of node {shardNode.Index}");
        await cluster.StartNodeAsync(shardNode);
        await cluster.WaitOneClusterAsync();
        AssertOneSubscriptionPerAccount(graph);
        // Teams still shows every UC call, and each session was kept alive after the second kill (its expiry is later
        // than the kill plus one TTL): also those whose actors lived on the killed node and were restarted elsewhere.
        AssertUcCallsShownInTeams(graph, ucCalls, "after both kills and restarts");
        await Eventually.TrueAsync(() => ucCalls.All(u => SessionExpiry(graph, u) > secondKill + SessionTtl), TimeSpan.FromSeconds(2 * SessionRefresh.TotalSeconds),
            "every UC call's session refreshed after the second kill",
            () => $"{ucCalls.Count(u => SessionExpiry(graph, u) <= secondKill + SessionTtl)} sessions not refreshed since the kill at {secondKill:HH:mm:ss}");
        output.WriteLine($"UC calls in progress for {callsStarted.Elapsed.TotalSeconds:0} s across both kills: every one still Busy/InACall in Teams, every session kept alive after the second kill");
        await Eventually.TrueAsync(() => Watched(graph) == UserCount, TimeSpan.FromMinutes(1), "every user still watched after the kills");

        // Every call ends: the right restore on both sides, nobody stuck busy.
        foreach (var u in teamsCalls)
            graph.Tenant.SetClient(u.TeamsId, TeamsClientState.Available);
        await ParallelAsync(ucCalls, u => uc.SetPhoneAsync(u.UcUserId, false));
        await Eventually.TrueAsync(() => teamsCalls.All(u => uc.User(u.UcUserId)!.Status == "Meeting") && ucCalls.All(u => !HasSession(graph, u)),
            TimeSpan.FromMinutes(2), "every call ended with the right restore",
            () => $"{teamsCalls.Count(u => uc.User(u.UcUserId)!.Status != "Meeting")} UC not restored, {ucCalls.Count(u => HasSession(graph, u))} Teams sessions left\n" +
                  Explain(cluster, [.. teamsCalls.Where(u => uc.User(u.UcUserId)!.Status != "Meeting"), .. ucCalls.Where(u => HasSession(graph, u))]));
        await AssertNobodyStuckAsync(graph, uc, users);

        // A rolling restart (SIGTERM: leave, exit, start again) while calls start and end.
        var rolling = users.Skip(2 * CallsEachWay).Take(60).ToList();
        var round = 0;
        foreach (var node in cluster.Nodes.ToList())
        {
            var active = round++ % 2 == 0;
            foreach (var u in rolling)
                graph.Tenant.SetClient(u.TeamsId, active ? TeamsClientState.InACall : TeamsClientState.Available);
            await ClusterHarness.TerminateAsync(node, TimeSpan.FromSeconds(60));
            Assert.Equal(0, node.Process!.ExitCode);
            await cluster.WaitRemovedAsync(node);
            await cluster.StartNodeAsync(node);
            await cluster.WaitOneClusterAsync();
            var expected = active ? "Busy" : "Available";
            await Eventually.TrueAsync(() => rolling.All(u => uc.User(u.UcUserId)!.Status == expected), TimeSpan.FromMinutes(2), $"round {round} of the rolling restart synced",
                () => Explain(cluster, rolling.Where(u => uc.User(u.UcUserId)!.Status != expected).ToList()));
        }

        foreach (var u in rolling)
            graph.Tenant.SetClient(u.TeamsId, TeamsClientState.Available);
        await Eventually.TrueAsync(() => rolling.All(u => uc.User(u.UcUserId)!.Status == "Available"), TimeSpan.FromMinutes(1), "restores after the rolling restart",
            () => Explain(cluster, rolling.Where(u => uc.User(u.UcUserId)!.Status != "Available").ToList()));
        output.WriteLine("rolling restart of all 3 nodes: every call during it synced and restored");

        // PostgreSQL stopped for 30 s: the nodes stay up, say they are not ready, and catch up afterwards.
        var outageUsers = users.Skip(2 * CallsEachWay + 60).Take(30).ToList();
        await PostgresServer.StopAsync();
        try
        {
            await Eventually.TrueAsync(async () => (await Task.WhenAll(cluster.Nodes.Select(ClusterHarness.ReadyAsync))).All(r => !r),
                TimeSpan.FromSeconds(30), "every node not ready without its database");
            foreach (var u in outageUsers)
                graph.Tenant.SetClient(u.TeamsId, TeamsClientState.InACall);
            await ClusterHarness.LastsAsync(TimeSpan.FromSeconds(30));
            Assert.All(cluster.Nodes, n => Assert.True(n.Running, $"node {n.Index} exited during the database outage: {ClusterHarness.Tail(n)}"));
        }
        finally
        {
            await PostgresServer.StartAsync();
        }

        await Eventually.TrueAsync(async () => (await Task.WhenAll(cluster.Nodes.Select(ClusterHarness.ReadyAsync))).All(r => r), TimeSpan.FromMinutes(2), "ready again");
        await Eventually.TrueAsync(() => outageUsers.All(u => uc.User(u.UcUserId)!.Status == "Busy"), TimeSpan.FromMinutes(2), "the calls that began during the outage reach UC",
            () => $"{outageUsers.Count(u => uc.User(u.UcUserId)!.Status == "Busy")} of {outageUsers.Count}");
        foreach (var u in outageUsers)
            graph.Tenant.SetClient(u.TeamsId, TeamsClientState.Available);
        await Eventually.TrueAsync(() => outageUsers.All(u => uc.User(u.UcUserId)!.Status == "Available"), TimeSpan.FromMinutes(1), "restored after the outage");
        await AssertNobodyStuckAsync(graph, uc, users);
        AssertOneSubscriptionPerAccount(graph);
        output.WriteLine($"PostgreSQL stopped 30 s: nodes stayed up, not ready meanwhile, {outageUsers.Count} calls begun during it synced afterwards; whole run {clock.Elapsed.TotalSeconds:0} s");
        output.WriteLine($"nodes started again because they exited before joining (the supervisor's job): {cluster.SupervisorRestarts}");
        foreach (var line in cluster.Events)
            output.WriteLine(line);
    }

    /// <summary>kill -9, then changes for users whose actors lived there until one reaches UC: kill to first processed.</summary>
    private async Task<(TimeSpan First, TimeSpan All)> KillAndMeasureAsync(ClusterHarness cluster, ClusterHarness.Node victim, List<User> candidates)
    {
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} kill -9 of node {victim.Index}");
        var measure = await cluster.KillAndMeasureAsync(victim, candidates.Select(u => (u.UcUserId, u.TeamsId)),
            affected => Diagnose(cluster, [.. affected.Select(a => new User(a.Uc, a.Teams))]));
        output.WriteLine($"all {measure.Affected.Count} affected users Busy on UC (the first {measure.First.TotalSeconds:0.0} s after the kill); the survivors' membership story:");
        foreach (var line in measure.Story)
            output.WriteLine(line.Length > 400 ? line[..400] : line);
        return (measure.First, measure.All);
    }

    private static async Task AssertNobodyStuckAsync(GraphSimulator graph, PresenceActors.Simulators.Uc.UcSimulator uc, List<User> users)
    {
        await Eventually.TrueAsync(() => users.All(u => uc.User(u.UcUserId)!.Status != "Busy" && !HasSession(graph, u)), TimeSpan.FromMinutes(1), "nobody stuck busy",
            () => string.Join(", ", users.Where(u => uc.User(u.UcUserId)!.Status == "Busy" || HasSession(graph, u)).Take(10).Select(u => u.UcUserId)));
    }

    private static string Explain(ClusterHarness cluster, List<User> wrong)
    {
        var live = cluster.Nodes.First(n => n.Running);
        var views = wrong.Take(3).Select(u =>
        {
            var history = string.Join(" → ", cluster.Uc.User(u.UcUserId)!.History.TakeLast(6).Select(h => $"{h.At:HH:mm:ss.fff} {h.Status} by {h.By}"));
            try
            {
                return $"{u.UcUserId} UC history: {history}\n" + cluster.AdminAsync(live, $"presence/users/{u.UcUserId}").GetAwaiter().GetResult().ToJsonString();
            }
            catch (Exception e)
            {
                return $"{u.UcUserId}: {e.Message}";
            }
        });
        var d = cluster.Graph.Delivery;
        return $"{wrong.Count} wrong; teams now {string.Join(",", wrong.Take(3).Select(u => cluster.Graph.Tenant.GetPresence(u.TeamsId).Activity))}; " +
               $"Graph delivery: {d.Delivered} delivered, {d.FailedAttempts} failed attempts, {d.WaitingToRetry} waiting to retry, {d.Abandoned} abandoned\n" +
               $"{string.Join("\n", views)}\n" + cluster.Report();
    }

    private static string Diagnose(ClusterHarness cluster, List<User> affected)
    {
        var synced = affected.Count(u => cluster.Uc.User(u.UcUserId)!.Status == "Busy");
        return $"{synced} of {affected.Count} synced\n{cluster.Report()}\n{synced} of {affected.Count} synced";
    }

    /// <summary>
    /// Every UC call in progress shows in Teams right now: our session is set and not expired, and the user's presence
    /// is Busy/InACall. Checked at once, not eventually: a session that lapsed and came back would be a gap users saw.
    /// </summary>
    private static void AssertUcCallsShownInTeams(GraphSimulator graph, List<User> ucCalls, string when)
    {
        var now = DateTimeOffset.UtcNow;
        var missing = ucCalls.Where(u => !(graph.Tenant.FindUser(u.TeamsId)!.Sessions.TryGetValue(ClusterHarness.ClientId, out var session) && (session.ExpiresAt ?? DateTimeOffset.MaxValue) > now)
                                         || graph.Tenant.GetPresence(u.TeamsId) is not ("Busy", "InACall", _)).ToList();
        Assert.True(missing.Count == 0, $"{when}: {missing.Count} of {ucCalls.Count} UC calls no longer shown in Teams, e.g. " +
                                        string.Join(", ", missing.Take(5).Select(u => $"{u.UcUserId} {graph.Tenant.GetPresence(u.TeamsId)}")));
    }

    private static DateTimeOffset SessionExpiry(GraphSimulator graph, User user) =>
        graph.Tenant.FindUser(user.TeamsId)!.Sessions.TryGetValue(ClusterHarness.ClientId, out var session) ? session.ExpiresAt ?? DateTimeOffset.MaxValue : DateTimeOffset.MinValue;

    private static bool HasSession(GraphSimulator graph, User user) => graph.Tenant.FindUser(user.TeamsId)!.Sessions.ContainsKey(ClusterHarness.ClientId);

    private static int Watched(GraphSimulator graph) => graph.Tenant.ListSubscriptions().SelectMany(s => s.UserIds).Distinct().Count();

    private static void AssertOneSubscriptionPerAccount(GraphSimulator graph)
    {
        var perCreator = graph.Tenant.ListSubscriptions().GroupBy(s => s.CreatorId).ToList();
        Assert.All(perCreator, g => Assert.Single(g));
    }

    private static async Task ParallelAsync<T>(IReadOnlyList<T> items, Func<T, Task> act, int parallel = 16)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < items.Count)
                await act(items[i]);
        }));
    }
}
