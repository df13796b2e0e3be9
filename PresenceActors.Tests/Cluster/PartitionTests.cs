using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Npgsql;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// A shorter <c>stable-after</c> decides a partition sooner (docs/decisions.md, "Fail-over timings"): three nodes whose
/// remoting passes through relays, the singletons' node cut off from the other two for 60 s while calls start and end in
/// both directions. The minority must down itself, no user may be watched twice at Graph, no actor may write from both
/// sides, and once the partition heals every change is on the other side and nobody is left busy.
/// </summary>
[Collection(Alone.Name)]
public class PartitionTests(ITestOutputHelper output)
{
    private const int TeamsSide = 200;
    private const int UcSide = 100;

    [Fact]
    public async Task The_singletons_node_cut_off_for_60_s_under_load_downs_itself_and_nothing_is_doubled_lost_or_stuck()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 2, relayRemoting: true);
        var relays = cluster.Relays!;
        var users = await cluster.AddWatchedUsersAsync(TeamsSide + UcSide, "part");
        var teamsUsers = users.Take(TeamsSide).ToList();
        var ucUsers = users.Skip(TeamsSide).ToList();
        var isolated = await cluster.SingletonNodeAsync();
        var majority = cluster.Nodes.Where(n => n != isolated).ToList();

        // Calls start and end throughout, about 40 changes a second: Teams calls for some users, PBX calls for others.
        var teamsInCall = new ConcurrentDictionary<string, bool>();
        var ucOnPhone = new ConcurrentDictionary<string, bool>();
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(() => LoadAsync(cluster, teamsUsers, ucUsers, teamsInCall, ucOnPhone, stopLoad.Token));
        await Eventually.TrueAsync(() => teamsInCall.Count > 20 && ucOnPhone.Count > 10, TimeSpan.FromSeconds(30), "load running");

        var since = cluster.OutputLengths();
        var cut = Stopwatch.StartNew();
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} node {isolated.Index} (the singletons') cut off from nodes {string.Join(", ", majority.Select(n => n.Index))}");
        relays.Isolate(isolated.Index);

        // The fence: while it still runs, the cut-off node takes nothing in and says so (not ready: cluster-quorum).
        var fenced = false;
        await Eventually.TrueAsync(async () => (fenced = await LacksQuorumAsync(isolated)) || !isolated.Running, TimeSpan.FromSeconds(30),
            "the cut-off node fenced itself or exited");
        Assert.True(fenced, $"node {isolated.Index} exited before it was seen without quorum");
        output.WriteLine($"node {isolated.Index} without quorum (not ready, takes nothing in) {cut.Elapsed.TotalSeconds:0.0} s after the cut");

        // The minority downs itself (keep-majority) and exits for its supervisor; the majority removes it and carries on.
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(45)))
            await isolated.Process!.WaitForExitAsync(exit.Token);
        var downedAfter = cut.Elapsed;
        output.WriteLine($"node {isolated.Index} exited {isolated.Process.ExitCode} {downedAfter.TotalSeconds:0.0} s after the cut; its own story:");
        foreach (var line in Story(isolated, since[isolated]))
            output.WriteLine(line);
        Assert.Equal(3, isolated.Process.ExitCode);
        Assert.Contains("SBR took decision", Output(isolated));
        await cluster.WaitRemovedAsync(isolated);
        Assert.Contains((await cluster.SingletonNodeAsync()).Index, majority.Select(n => n.Index));
        Assert.True(relays.Held > 0, "the relays held back traffic between the sides");
        Assert.Equal(0, relays.Unidentified); // every connection's origin was known: the majority's own links were never cut
        output.WriteLine($"node {isolated.Index} downed itself and exited {downedAfter.TotalSeconds:0.0} s after the cut; the majority removed it:");
        foreach (var line in cluster.MembershipStory(since).Take(30))
            output.WriteLine(line.Length > 300 ? line[..300] : line);

        // The rest of the 60 s under load, then the partition heals and the node starts again (as its supervisor would).
        await ClusterHarness.LastsAsync(TimeSpan.FromSeconds(60) - cut.Elapsed);
        Assert.All(majority, n => Assert.True(n.Running, $"node {n.Index} of the majority exited: {ClusterHarness.Tail(n)}"));
        relays.Heal();
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} healed after {cut.Elapsed.TotalSeconds:0} s");
        await cluster.StartNodeAsync(isolated);
        await cluster.WaitOneClusterAsync();
        await stopLoad.CancelAsync();
        await load;

        // Every last change reached the other side: nothing answered 202 (by either side) was lost.
        await Eventually.TrueAsync(() => teamsUsers.All(u => cluster.Uc.User(u.Uc)!.Status == (teamsInCall.GetValueOrDefault(u.Uc) ? "Busy" : "Available"))
                                         && ucUsers.All(u => HasSession(cluster.Graph, u.Teams) == ucOnPhone.GetValueOrDefault(u.Uc)),
            TimeSpan.FromMinutes(2), "every last change on the other side",
            () => $"{teamsUsers.Count(u => cluster.Uc.User(u.Uc)!.Status != (teamsInCall.GetValueOrDefault(u.Uc) ? "Busy" : "Available"))} UC wrong, " +
                  $"{ucUsers.Count(u => HasSession(cluster.Graph, u.Teams) != ucOnPhone.GetValueOrDefault(u.Uc))} Teams wrong\n{cluster.Report()}");

        // Every call ends: nobody is left busy on either side.
        foreach (var u in teamsUsers)
            cluster.Graph.Tenant.SetClient(u.Teams, TeamsClientState.Available);
        foreach (var u in ucUsers)
            await ReportPhoneAsync(cluster, u.Uc, false);
        await Eventually.TrueAsync(() => users.All(u => cluster.Uc.User(u.Uc)!.Status != "Busy" && !HasSession(cluster.Graph, u.Teams)), TimeSpan.FromMinutes(2),
            "nobody stuck busy", () => string.Join(", ", users.Where(u => cluster.Uc.User(u.Uc)!.Status == "Busy" || HasSession(cluster.Graph, u.Teams)).Take(10).Select(u => u.Uc)));

        // No user watched twice at Graph, one subscription per technical account.
        var live = cluster.Graph.Tenant.ListSubscriptions();
        Assert.All(live.GroupBy(s => s.CreatorId), g => Assert.Single(g));
        Assert.All(users, u => Assert.Single(cluster.Graph.Tenant.SubscriptionsWatching(u.Teams)));

        // No actor wrote from both sides: in every journal, each writer's events are one unbroken run.
        var interleaved = await InterleavedWritersAsync(cluster.Database.ConnectionString);
        Assert.True(interleaved.Count == 0, $"persistence ids written by one writer before and after another: {string.Join(", ", interleaved.Take(10))}");
        Assert.All(cluster.Nodes, n => Assert.True(!Output(n).Contains("duplicate key value", StringComparison.Ordinal),
            $"node {n.Index} met a second writer:\n{Around(Output(n), "duplicate key value")}"));
        output.WriteLine($"after the heal: every last change arrived, nobody busy, {live.Count} subscriptions (one per account), no journal written from two sides");
    }

    private static async Task LoadAsync(ClusterHarness cluster, List<(string Uc, string Teams)> teamsUsers, List<(string Uc, string Teams)> ucUsers,
        ConcurrentDictionary<string, bool> teamsInCall, ConcurrentDictionary<string, bool> ucOnPhone, CancellationToken stop)
    {
        var random = new Random(15);
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var reports = new List<Task>(); // each user's reports keep their order in the back end
        try
        {
            while (await pace.WaitForNextTickAsync(stop))
            {
                for (var i = 0; i < 3; i++)
                {
                    var u = teamsUsers[random.Next(teamsUsers.Count)];
                    var inCall = !teamsInCall.GetValueOrDefault(u.Uc);
                    teamsInCall[u.Uc] = inCall;
                    cluster.Graph.Tenant.SetClient(u.Teams, inCall ? TeamsClientState.InACall : TeamsClientState.Available);
                }

                var p = ucUsers[random.Next(ucUsers.Count)];
                var onPhone = !ucOnPhone.GetValueOrDefault(p.Uc);
                ucOnPhone[p.Uc] = onPhone;
                reports.Add(ReportPhoneAsync(cluster, p.Uc, onPhone));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(reports);
    }

    /// <summary>The UC back end reports a phone call (it tries again itself while the bridge refuses or cannot be reached).</summary>
    private static async Task ReportPhoneAsync(ClusterHarness cluster, string ucUser, bool onPhone)
    {
        var status = await cluster.Uc.SetPhoneAsync(ucUser, onPhone);
        if ((int)status is < 200 or > 299)
            throw new InvalidOperationException($"the bridge answered {ucUser}'s phone report {(int)status}");
    }

    /// <summary>Persistence ids in whose journal one writer's events come before and after another writer's.</summary>
    private static async Task<List<string>> InterleavedWritersAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT DISTINCT persistence_id FROM (
                SELECT persistence_id, writer_uuid,
                       ROW_NUMBER() OVER (PARTITION BY persistence_id ORDER BY sequence_number)
                     - ROW_NUMBER() OVER (PARTITION BY persistence_id, writer_uuid ORDER BY sequence_number) AS island
                FROM journal) runs
            GROUP BY persistence_id, writer_uuid
            HAVING COUNT(DISTINCT island) > 1
            """;
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetString(0));
        return ids;
    }

    private static bool HasSession(GraphSimulator graph, string teamsId) => graph.Tenant.FindUser(teamsId)!.Sessions.ContainsKey(ClusterHarness.ClientId);

    /// <summary>Whether the node's readiness names the missing majority (and nothing answers when it is gone).</summary>
    private static async Task<bool> LacksQuorumAsync(ClusterHarness.Node node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{node.Admin}/healthz/ready");
            var ready = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync());
            return response.StatusCode == HttpStatusCode.ServiceUnavailable && ready?["checks"]?["cluster-quorum"]?["status"]?.GetValue<string>() == "Unhealthy";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>What the cut-off node said about membership, shutdown and the journal after <paramref name="since"/>.</summary>
    private static IEnumerable<string> Story(ClusterHarness.Node node, int since)
    {
        string[] markers = ["SBR", "Down", "down", "Exiting", "Shutting", "shutdown", "duplicate", "Removed", "Singleton", "exit", "unreachable", "UNREACHABLE", "ingress"];
        return Output(node)[since..].Split('\n').Where(l => markers.Any(l.Contains)).Select(l => l.Trim()).Select(l => l.Length > 260 ? l[..260] : l).Take(60);
    }

    /// <summary>The lines before and after the first line of <paramref name="text"/> containing <paramref name="marker"/>.</summary>
    private static string Around(string text, string marker)
    {
        var lines = text.Split('\n');
        var at = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        return string.Join("\n", lines[Math.Max(0, at - 12)..Math.Min(lines.Length, at + 6)].Select(l => l.Length > 400 ? l[..400] : l));
    }

    private static string Output(ClusterHarness.Node node)
    {
        lock (node.Output)
            return node.Output.ToString();
    }
}
