using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Users;

namespace PresenceActors.Mapping;

public static class MappingSetup
{
    /// <summary>
    /// The cluster's mapping singleton (seeded with the configured table) and this node's follower, which keeps the node's
    /// <see cref="PresenceRulesSource"/> on the newest version (docs/mapping.md).
    /// </summary>
    public static AkkaConfigurationBuilder WithPresenceMapping(this AkkaConfigurationBuilder builder, IServiceProvider services)
    {
        var rules = services.GetRequiredService<PresenceRulesSource>();
        var clock = services.GetService<TimeProvider>() ?? TimeProvider.System;
        return builder
            .WithCustomSerializer("mapping-json", MappingSerializer.BoundTypes, system => new MappingSerializer(system))
            .WithSingleton<PresenceMappingKey>(
                "presence-mapping",
                (_, _, _) => Cluster.SupervisedSingleton.Props(Props.Create(() => new PresenceMappingActor(rules.Configured, clock)), "mapping"),
                new ClusterSingletonOptions(),
                createProxyToo: true)
            .WithActors((system, registry) =>
            {
                var follower = system.ActorOf(
                    Props.Create(() => new MappingFollower(rules, registry.Get<PresenceMappingKey>(), registry.Get<UserPresenceRegion>(), clock)),
                    "mapping-follower");
                registry.Register<MappingFollowerKey>(follower);
            });
    }
}
