using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using PresenceActors.Subscriptions;

namespace PresenceActors.Webhooks;

/// <summary>The subscription ids the pool currently holds, as last published to this node (no database on the hot path).</summary>
public sealed class KnownSubscriptionsCache
{
    private volatile ImmutableHashSet<string>? _ids;
    private volatile TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>False until the pool has published once; until then only the clientState vouches for an item.</summary>
    public bool Initialized => _ids is not null;

    public bool Contains(string subscriptionId) => _ids is { } ids && ids.Contains(subscriptionId);

    public IReadOnlySet<string> Snapshot => _ids ?? [];

    public void Update(ImmutableHashSet<string> ids)
    {
        _ids = ids;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) until the id is known; true when it is.</summary>
    public async Task<bool> WaitForAsync(string subscriptionId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Contains(subscriptionId))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            try
            {
                await _changed.Task.WaitAsync(left, cancellationToken);
            }
            catch (TimeoutException)
            {
                return Contains(subscriptionId);
            }
        }

        return true;
    }
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
