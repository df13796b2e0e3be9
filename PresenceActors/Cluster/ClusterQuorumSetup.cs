using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace PresenceActors.Cluster;

public static class ClusterQuorumSetup
{
    /// <summary>Whether this node sees a majority of the cluster (<see cref="ClusterQuorum"/>), for the ingress and the health check.</summary>
    public static IServiceCollection AddClusterQuorum(this IServiceCollection services) => services.AddSingleton<ClusterQuorum>();

    /// <summary>Attaches the node's <see cref="ClusterQuorum"/> to its cluster once the actor system runs.</summary>
    public static AkkaConfigurationBuilder WithClusterQuorum(this AkkaConfigurationBuilder builder, IServiceProvider services) =>
        builder.WithActors((system, _) => services.GetRequiredService<ClusterQuorum>().Attach(system));
}
