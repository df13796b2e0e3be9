using System.Diagnostics.Metrics;

namespace PresenceActors;

/// <summary>
/// The node's own gauges of the subscription pool and its dead letters (docs/architecture.md, "Metrics"). Every
/// instrument of the service is made from the node's <see cref="IMeterFactory"/> under <see cref="MeterName"/>, which
/// the Host exports through OpenTelemetry.
/// </summary>
public sealed class PresenceMetrics
{
    public const string MeterName = "PresenceActors";

    private readonly Counter<long> _deadLetters;
    private readonly Counter<long> _bulkReadUsers;
    private long _readsForwarded;
    private long _readsLeftIdle;
    private long _unwatched;
    private long _watched;
    private long _subscriptions;
    private long _unhealthyAccounts;
    private long _deadLetterCount;
    private long _soonestExpiryTicks;

    /// <summary>Whether the pool singleton runs on this node: only there are its gauges reported.</summary>
    private long _poolsHere;

    public PresenceMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _bulkReadUsers = meter.CreateCounter<long>("presence.bulk_reads.users",
            description: "Users read in bulk by outcome: forwarded to their actors, or left idle (nothing that matters changed)");
        _deadLetters = meter.CreateCounter<long>("presence.dead_letters",
            description: "Messages that reached no actor, by message type; none in normal operation");
        meter.CreateObservableGauge("presence.users.unwatched", () => PoolGauge(ref _unwatched),
            description: "Users no healthy technical account's subscription covers");
        meter.CreateObservableGauge("presence.users.watched", () => PoolGauge(ref _watched),
            description: "Users covered by a healthy technical account");
        meter.CreateObservableGauge("presence.subscriptions.active", () => PoolGauge(ref _subscriptions),
            description: "Presence subscriptions the pool holds");
        meter.CreateObservableGauge("presence.subscriptions.expiry_seconds", SoonestExpiry,
            description: "Seconds until the soonest-expiring presence subscription of the pool expires (renewed well before)");
        meter.CreateObservableGauge("presence.accounts.unhealthy", () => PoolGauge(ref _unhealthyAccounts),
            description: "Technical accounts that cannot sign in");
    }

    private IEnumerable<Measurement<long>> PoolGauge(ref long value)
    {
        var current = Interlocked.Read(ref value);
        return Interlocked.Read(ref _poolsHere) > 0 ? [new Measurement<long>(current)] : [];
    }

    public void SetUnwatched(long unwatched, long watched)
    {
        Interlocked.Exchange(ref _unwatched, unwatched);
        Interlocked.Exchange(ref _watched, watched);
    }

    /// <summary>No measurement while no subscription exists (an empty series, not a misleading zero).</summary>
    private IEnumerable<Measurement<double>> SoonestExpiry()
    {
        var ticks = Interlocked.Read(ref _soonestExpiryTicks);
        if (ticks != 0 && Interlocked.Read(ref _poolsHere) > 0)
            yield return new Measurement<double>((new DateTimeOffset(ticks, TimeSpan.Zero) - DateTimeOffset.UtcNow).TotalSeconds);
    }

    public void SetSubscriptions(long active, long unhealthyAccounts, DateTimeOffset? soonestExpiry = null)
    {
        Interlocked.Exchange(ref _soonestExpiryTicks, soonestExpiry?.UtcTicks ?? 0);
        Interlocked.Exchange(ref _subscriptions, active);
        Interlocked.Exchange(ref _unhealthyAccounts, unhealthyAccounts);
    }

    /// <summary>The pool singleton started on this node: from now its gauges are reported here.</summary>
    public void PoolStarted() => Interlocked.Increment(ref _poolsHere);

    /// <summary>The pool stopped on this node (its singleton moved): its gauges report nothing here until it returns.</summary>
    public void PoolStopped()
    {
        if (Interlocked.Decrement(ref _poolsHere) <= 0)
            Interlocked.Exchange(ref _soonestExpiryTicks, 0);
    }

    public long Unwatched => Interlocked.Read(ref _unwatched);

    /// <summary>
    /// Users a bulk read reached (<paramref name="forwarded"/>) and users it left alone as idle (docs/scale.md, "Lazy
    /// user actors"), counted once per read, after it was handed on.
    /// </summary>
    public void OnBulkRead(long forwarded, long leftIdle)
    {
        Interlocked.Add(ref _readsForwarded, forwarded);
        Interlocked.Add(ref _readsLeftIdle, leftIdle);
        _bulkReadUsers.Add(forwarded, new KeyValuePair<string, object?>("outcome", "forwarded"));
        _bulkReadUsers.Add(leftIdle, new KeyValuePair<string, object?>("outcome", "left-idle"));
    }

    /// <summary>Users bulk reads have left alone as idle on this node since it started.</summary>
    public long BulkReadsLeftIdle => Interlocked.Read(ref _readsLeftIdle);

    /// <summary>Users bulk reads have reached on this node since it started.</summary>
    public long BulkReadsForwarded => Interlocked.Read(ref _readsForwarded);

    /// <summary>Dead letters this node has seen since it started.</summary>
    public long DeadLetterCount => Interlocked.Read(ref _deadLetterCount);

    public void OnDeadLetter(string messageType)
    {
        Interlocked.Increment(ref _deadLetterCount);
        _deadLetters.Add(1, new KeyValuePair<string, object?>("message", messageType));
    }
}
