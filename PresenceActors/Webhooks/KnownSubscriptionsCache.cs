using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using PresenceActors.Subscriptions;

namespace PresenceActors.Webhooks;

/// <summary>
/// The subscription ids the pool currently holds, as last published to this node (no database on the hot path), and
/// the ones it held until lately: a subscription replaced (a membership change deletes it and creates another) may
/// still have deliveries on their way or retried by Graph, and their items are as genuine as ever (the clientState
/// still vouches for each). An id retired <see cref="RetiredGrace"/> ago is no longer known.
/// </summary>
public sealed class KnownSubscriptionsCache(TimeProvider? clock = null)
{
    /// <summary>How long a replaced or deleted subscription's deliveries are still taken.</summary>
    public static readonly TimeSpan RetiredGrace = TimeSpan.FromHours(1);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly object _gate = new();
    private volatile ImmutableHashSet<string>? _ids;
    private ImmutableDictionary<string, DateTimeOffset> _retired = ImmutableDictionary<string, DateTimeOffset>.Empty;
    private ImmutableDictionary<string, string> _tags = ImmutableDictionary<string, string>.Empty;
    private volatile TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>False until the pool has published once; until then only the clientState vouches for an item.</summary>
    public bool Initialized => _ids is not null;

    public bool Contains(string subscriptionId) =>
        (_ids is { } ids && ids.Contains(subscriptionId))
        || (Volatile.Read(ref _retired).TryGetValue(subscriptionId, out var retiredAt) && _clock.GetUtcNow() - retiredAt < RetiredGrace);

    public IReadOnlySet<string> Snapshot => _ids ?? [];

    /// <summary>
    /// The tag of the technical account whose clientState the subscription carries (kept as long as its id is known);
    /// null when the pool did not say.
    /// </summary>
    public string? AccountTagOf(string subscriptionId) => Volatile.Read(ref _tags).GetValueOrDefault(subscriptionId);

    public void Update(ImmutableHashSet<string> ids, ImmutableDictionary<string, string>? accountTags = null)
    {
        lock (_gate)
        {
            // Tags of retired ids stay while those ids are still taken.
            var tags = _tags.Where(t => ids.Contains(t.Key) || _retired.ContainsKey(t.Key) || (_ids?.Contains(t.Key) ?? false)).ToImmutableDictionary();
            Volatile.Write(ref _tags, accountTags is null ? tags : tags.SetItems(accountTags));
            var now = _clock.GetUtcNow();
            var retired = _retired.Where(r => now - r.Value < RetiredGrace && !ids.Contains(r.Key)).ToImmutableDictionary();
            foreach (var gone in (_ids ?? []).Except(ids))
                retired = retired.SetItem(gone, now);
            Volatile.Write(ref _retired, retired);
            _ids = ids;
        }

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
        Receive<KnownSubscriptions>(k => cache.Update(k.SubscriptionIds, k.AccountTags));
        Receive<SubscribeAck>(_ => { });
    }

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(KnownSubscriptions.Topic, Self));
        Context.System.EventStream.Subscribe(Self, typeof(KnownSubscriptions));
    }
}
