using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Cluster;
using Xunit;

namespace PresenceActors.Tests.Cluster;

/// <summary>The fail-over timings a node runs with (docs/decisions.md, "Fail-over timings").</summary>
public class ClusterTimingsTests
{
    [Fact]
    public void A_cluster_node_sends_heartbeats_every_500_ms_gossips_every_250_ms_and_a_node_alone_keeps_akkas_second()
    {
        var clustered = ConfigOf(new PresenceClusterOptions { SeedNodes = ["akka.tcp://presence@127.0.0.1:4053", "akka.tcp://presence@127.0.0.1:4054"] });
        Assert.Equal(TimeSpan.FromMilliseconds(500), clustered.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
        Assert.Equal(TimeSpan.FromSeconds(2), clustered.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromSeconds(2), clustered.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(TimeSpan.FromSeconds(1), clustered.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), clustered.GetTimeSpan("akka.cluster.gossip-interval"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), clustered.GetTimeSpan("akka.cluster.leader-actions-interval"));

        // Alone (the sandbox): nobody to send heartbeats to, and the "heartbeat was delayed" warning after a 2 s stall.
        var alone = ConfigOf(new PresenceClusterOptions());
        Assert.Equal(TimeSpan.FromSeconds(1), alone.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
        Assert.Equal(TimeSpan.FromSeconds(2), alone.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
    }

    private static Akka.Configuration.Config ConfigOf(PresenceClusterOptions options)
    {
        var builder = new AkkaConfigurationBuilder(new ServiceCollection(), "presence").WithPresenceCluster(options);
        Assert.True(builder.Configuration.HasValue);
        return builder.Configuration.Value;
    }
}
