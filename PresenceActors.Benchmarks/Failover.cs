using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;

namespace PresenceActors.Benchmarks;

/// <summary>What one kill cost: kill to the first change of an affected user on UC, and to all of them.</summary>
internal sealed record KillResult(string Victim, double FirstSeconds, double AllSeconds, int Affected);

internal sealed record FailoverResult(KillResult Singleton, KillResult Shard, long Refused503, double LongestAnswerSeconds, long SlowAnswers, long ChangesOffered);

/// <summary>
/// `--only failover`: three nodes on PostgreSQL on loopback, as the compose file configures them, under a steady 100
/// Teams changes per second; kill -9 of the singletons' node, then (once it is back) of a shard node. Measured from the
/// kill to the first change of a user whose actor lived on the killed node arriving at the UC front end.
/// </summary>
internal static class Failover
{
    public static async Task<FailoverResult> RunAsync(int users)
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: Math.Max(1, (int)Math.Ceiling(users / 650.0)));
        var all = await cluster.AddWatchedUsersAsync(users, "fo");
        Console.Error.WriteLine($"failover: 3 nodes, {users} users watched");

        // The steady load: 100 changes a second among users the kills do not pick (they go Offline and back).
        var background = all.Take(users / 2).ToList();
        var candidates = all.Skip(users / 2).ToList();
        using var stop = new CancellationTokenSource();
        long offered = 0;
        var load = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            var n = 0;
            while (await timer.WaitForNextTickAsync(stop.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result))
            {
                var u = background[n++ % background.Count];
                cluster.Graph.Tenant.SetClient(u.Teams, n / background.Count % 2 == 0 ? TeamsClientState.Offline : TeamsClientState.Available);
                Interlocked.Increment(ref offered);
            }
        });
        var refusedBefore = cluster.Graph.Delivery.FailedAttempts;
        var slowBefore = cluster.Graph.Delivery.SlowEndpoints.Of($"127.0.0.1:{cluster.WebhookProxy.Port}").Slow;

        var singletonNode = await cluster.SingletonNodeAsync();
        var first = await KillAsync(cluster, singletonNode, candidates.Take(candidates.Count / 2).ToList(), "the singletons' node");
        await cluster.WaitRemovedAsync(singletonNode);
        await cluster.StartNodeAsync(singletonNode);
        await cluster.WaitOneClusterAsync();
        var newSingleton = await cluster.SingletonNodeAsync();
        // The other survivor holding most of the remaining candidates, as the cluster test picks it.
        var rest = candidates.Skip(candidates.Count / 2).ToList();
        var shardNode = await cluster.BusiestHolderAsync(rest.Take(200).Select(u => u.Teams), except: newSingleton);
        var second = await KillAsync(cluster, shardNode, rest, "a shard node");

        await stop.CancelAsync();
        await load;
        return new FailoverResult(first, second, cluster.Graph.Delivery.FailedAttempts - refusedBefore, cluster.Graph.Delivery.LongestAnswer.TotalSeconds,
            cluster.Graph.Delivery.SlowEndpoints.Of($"127.0.0.1:{cluster.WebhookProxy.Port}").Slow - slowBefore, Interlocked.Read(ref offered));
    }

    private static async Task<KillResult> KillAsync(ClusterHarness cluster, ClusterHarness.Node victim, List<(string Uc, string Teams)> candidates, string what)
    {
        var measure = await cluster.KillAndMeasureAsync(victim, candidates);
        Console.Error.WriteLine($"failover: kill -9 of {what} (node {victim.Index}): first {measure.First.TotalSeconds:0.0} s, all {measure.Affected.Count} {measure.All.TotalSeconds:0.0} s");
        foreach (var line in measure.Story)
            Console.Error.WriteLine(line.Length > 300 ? line[..300] : line);
        return new KillResult(what, measure.First.TotalSeconds, measure.All.TotalSeconds, measure.Affected.Count);
    }
}
