using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using PresenceActors.Subscriptions;
using PresenceActors.Users;

namespace PresenceActors.Registration;

public static class UserRegistrySetup
{
    public static AkkaConfigurationBuilder WithUserRegistry(this AkkaConfigurationBuilder builder) =>
        builder
            .WithCustomSerializer("registration-json", RegistrationSerializer.BoundTypes, system => new RegistrationSerializer(system))
            .WithSingleton<UserRegistryKey>(
                "user-registry",
                (_, registry, _) => Cluster.SupervisedSingleton.Props(
                    Props.Create(() => new UserRegistryActor(registry.Get<UserPresenceRegion>(), registry.Get<SubscriptionPoolKey>())), "registry"),
                new ClusterSingletonOptions(),
                createProxyToo: true);
}
