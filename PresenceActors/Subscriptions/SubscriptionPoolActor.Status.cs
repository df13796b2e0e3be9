using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using static PresenceActors.Subscriptions.SubscriptionPoolCommands;

namespace PresenceActors.Subscriptions;

/// <summary>What the pool tells others: the subscription ids every node's webhook checks items against, its metrics and status.</summary>
public sealed partial class SubscriptionPoolActor
{
    private void PublishKnownSubscriptions()
    {
        var held = _state.Accounts.Values.Where(a => a.SubscriptionId is not null).ToList();
        var known = new KnownSubscriptions(held.Select(a => a.SubscriptionId!).ToImmutableHashSet(),
            held.ToImmutableDictionary(a => a.SubscriptionId!, a => ClientStateSigner.TagOf(a.Name)));
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(KnownSubscriptions.Topic, known));
        Context.System.EventStream.Publish(known);
    }

    private void ReportUnwatched()
    {
        var count = _state.UnwatchedCount;
        _metrics.SetUnwatched(count, _state.Users.Count - count);
        _metrics.SetSubscriptions(_state.Accounts.Values.Count(a => a.SubscriptionId is not null), _state.Accounts.Values.Count(a => !a.Healthy),
            _state.Accounts.Values.Where(a => a.SubscriptionId is not null).Min(a => a.ExpiresAt));
        if (count == _lastUnwatchedLogged)
            return;
        _lastUnwatchedLogged = count;
        if (count > 0)
        {
            _log.Error("users-unwatched count={0}: no healthy technical account has room (650 users each); add an account (`accounts add`). First: {1}",
                count, string.Join(", ", _state.Unwatched.Take(20)));
        }
    }

    private PoolStatus Status()
    {
        var load = _state.Load;
        var unwatched = _state.Unwatched;
        var accounts = _state.Accounts.Values.Select(a => new AccountStatus(
            a.Name, load.GetValueOrDefault(a.Name), _state.Capacity, a.SubscriptionId, a.ExpiresAt, a.Subscribed.Count,
            a.Healthy, a.Draining, _graph.HasCredentials(a.Name), a.Problem, _lastRenewal.TryGetValue(a.Name, out var renewed) ? renewed : null)).ToImmutableArray();
        return new PoolStatus(accounts, _state.Users.Count - unwatched.Count, unwatched.Count, [.. unwatched.Take(50)]);
    }
}
