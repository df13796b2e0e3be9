using Akka.Actor;
using Akka.Persistence.Sql.Config;
using Xunit;

namespace PresenceActors.Tests.Support;

/// <summary>What a node's journal and snapshot store were given to reach their database (PersistenceSetup).</summary>
internal static class PersistencePlugins
{
    public const string Journal = "akka.persistence.journal.sql";

    public const string SnapshotStore = "akka.persistence.snapshot-store.sql";

    /// <summary>The interceptor of type <typeparamref name="T"/> the plugin's connections go through (exactly one).</summary>
    public static T InterceptorOf<T>(ActorSystem system, string plugin)
    {
        var setup = system.Settings.Setup.Get<MultiDataOptionsSetup>();
        Assert.True(setup.HasValue, "no data options were given to the persistence plugins");
        Assert.True(setup.Value.TryGetDataOptionsFor(plugin, out var options), $"no data options for {plugin}");
        return Assert.Single((options!.DataContextOptions.Interceptors ?? []).OfType<T>());
    }
}
