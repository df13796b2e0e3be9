using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using PresenceActors.Subscriptions;

namespace PresenceActors.Webhooks;

/// <summary>The subscription ids the pool currently holds, as last published to this node (no database on the hot path).</summary>
public sealed class KnownSubscriptionsCache
{
    private volatile ImmutableHashSet<string>? _ids;

    /// <summary>False until the pool has published once; until then only the clientState vouches for an item.</summary>
    public bool Initialized => _ids is not null;

    public bool Contains(string subscriptionId) => _ids is { } ids && ids.Contains(subscriptionId);

    public IReadOnlySet<string> Snapshot => _ids ?? [];

    public void Update(ImmutableHashSet<string> ids) => _ids = ids;
}

/// <summary>Feeds <see cref="KnownSubscriptionsCache"/> from the pool's publications (cluster-wide and local).</summary>
public sealed class KnownSubscriptionsListener : ReceiveActor
{
    public KnownSubscriptionsListener(KnownSubscriptionsCache cache)
    {
        Receive<KnownSubscriptions>(k => cache.Update(k.SubscriptionIds));
        Receive<SubscribeAck>(_ => { });
    }

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(KnownSubscriptions.Topic, Self));
        Context.System.EventStream.Subscribe(Self, typeof(KnownSubscriptions));
    }
}
