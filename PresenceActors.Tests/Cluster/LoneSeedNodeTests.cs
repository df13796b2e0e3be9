using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// The first seed node joins itself when the other seed nodes do not answer. Restarted while the others are busy, it
/// used to form a cluster of its own beside the real one, with its own singletons and second copies of users' actors
/// writing to the same journal (seen once in the cluster scenario's rolling restart). No member becomes Up before a
/// majority of the seed nodes is in: such a node holds nothing, is never ready, and leaves for its supervisor.
/// </summary>
public class LoneSeedNodeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task First_seed_node_alone_forms_no_cluster_stays_not_ready_and_leaves_for_its_supervisor()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 0, technicalAccounts: 1);
        // Itself first, then two seed nodes that never answer.
        var silent = Enumerable.Range(0, 2).Select(_ => $"akka.tcp://presence@127.0.0.1:{TestPorts.Next()}");
        var node = cluster.AddNode(["self", .. silent], "presence.cluster.upWithin = 00:00:15");
        var process = cluster.Launch(node);

        var everReady = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(500)))
        {
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2) && await tick.WaitForNextTickAsync())
                everReady |= await ClusterHarness.ReadyAsync(node);
        }

        var text = ClusterHarness.Tail(node);
        output.WriteLine(text);
        Assert.True(process.HasExited, $"the lone node still runs {clock.Elapsed.TotalSeconds:0} s after it started: it formed a cluster of its own");
        Assert.Equal(3, process.ExitCode); // let go by the cluster: for the supervisor (systemd's Restart=on-failure) to start again
        Assert.False(everReady, "the lone node reported ready");
        Assert.Contains("cluster-not-formed: this node is Joining with 1 member(s)", text);
        // Not Up, so no singleton: the subscription pool never ran there and Graph has no subscription.
        Assert.Empty(cluster.Graph.Tenant.ListSubscriptions());
    }
}
