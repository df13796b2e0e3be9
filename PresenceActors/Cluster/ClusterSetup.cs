using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace PresenceActors.Cluster;

public static class ClusterSetup
{
    /// <summary>Remoting plus cluster membership; with no seed nodes the node joins itself (the embedded default).</summary>
    public static AkkaConfigurationBuilder WithPresenceCluster(this AkkaConfigurationBuilder builder, PresenceClusterOptions options)
    {
        builder
            .WithRemoting(options.Hostname, options.Port, options.PublicHostname ?? options.Hostname)
            .WithClustering(new ClusterOptions
            {
                SeedNodes = options.SeedNodes.ToArray(),
                SplitBrainResolver = new KeepMajorityOption(),
            });
        if (options.SeedNodes.Count > 0)
        {
            // A node that cannot reach its seed nodes gives up instead of waiting forever, so that a supervisor restarts it.
            // (Only with seed nodes: the setting would also end a self-joined node after 30 s.)
            builder.AddHocon("akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 30s", HoconAddMode.Prepend);
        }
        else
        {
            builder.AddStartup(async (system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                await cluster.JoinAsync(cluster.SelfAddress);
            });
        }

        return builder;
    }
}
