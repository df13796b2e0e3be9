using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Graph;
using PresenceActors.Users;

namespace PresenceActors.Subscriptions;

public static class SubscriptionPoolSetup
{
    public const string SingletonName = "subscription-pool";

    /// <summary>The pool as a cluster singleton (with a proxy on every node under <see cref="SubscriptionPoolKey"/>).</summary>
    public static AkkaConfigurationBuilder WithSubscriptionPool(
        this AkkaConfigurationBuilder builder, IServiceProvider services, SubscriptionPoolOptions options, IReadOnlyList<string> configuredAccounts)
    {
        var problems = options.Validate();
        if (problems.Count > 0)
            throw new ArgumentException(string.Join(Environment.NewLine, problems), nameof(options));
        var graph = services.GetRequiredService<ISubscriptionGraph>();
        var clock = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var metrics = services.GetRequiredService<PresenceMetrics>();

        return builder
            .WithCustomSerializer("subscriptions-json", SubscriptionSerializer.BoundTypes, system => new SubscriptionSerializer(system))
            .WithSingleton<SubscriptionPoolKey>(
                SingletonName,
                (_, registry, _) => Cluster.SupervisedSingleton.Props(
                    Props.Create(() => new SubscriptionPoolActor(graph, options, configuredAccounts, registry.Get<UserPresenceRegion>(), clock, metrics)), "pool"),
                new ClusterSingletonOptions(),
                createProxyToo: true);
    }

    /// <summary>
    /// When a member leaves the cluster, asks the pool for a full presence read once its shards have moved (<see cref="MemberRemovedResync"/>).
    /// </summary>
    public static AkkaConfigurationBuilder WithMemberRemovedResync(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry) =>
            system.ActorOf(Props.Create(() => new MemberRemovedResync(registry.Get<SubscriptionPoolKey>(), TimeSpan.FromSeconds(5))), "member-removed-resync"));
}
