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
        if (options.SeedNodes.Count == 0)
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
