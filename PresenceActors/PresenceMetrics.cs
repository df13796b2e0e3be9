using System.Diagnostics.Metrics;

namespace PresenceActors;

/// <summary>The service's own metrics (System.Diagnostics.Metrics; exported through OpenTelemetry by the Host).</summary>
public static class PresenceMetrics
{
    public const string MeterName = "PresenceActors";

    private static readonly Meter Meter = new(MeterName);
    private static long _unwatched;
    private static long _watched;
    private static long _subscriptions;
    private static long _unhealthyAccounts;
    private static long _deadLetters;
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("presence.dead_letters",
        description: "Messages that reached no actor, by message type; none in normal operation");

    static PresenceMetrics()
    {
        Meter.CreateObservableGauge("presence.users.unwatched", () => PoolGauge(ref _unwatched),
            description: "Users no healthy technical account's subscription covers");
        Meter.CreateObservableGauge("presence.users.watched", () => PoolGauge(ref _watched),
            description: "Users covered by a healthy technical account");
        Meter.CreateObservableGauge("presence.subscriptions.active", () => PoolGauge(ref _subscriptions),
            description: "Presence subscriptions the pool holds");
        Meter.CreateObservableGauge("presence.subscriptions.expiry_seconds", SoonestExpiry,
            description: "Seconds until the soonest-expiring presence subscription of the pool expires (renewed well before)");
        Meter.CreateObservableGauge("presence.accounts.unhealthy", () => PoolGauge(ref _unhealthyAccounts),
            description: "Technical accounts that cannot sign in");
    }

    /// <summary>Pools running in this process (the singleton: one on one node): only where it runs are its gauges reported.</summary>
    private static long _poolsHere;

    private static IEnumerable<Measurement<long>> PoolGauge(ref long value)
    {
        var current = Interlocked.Read(ref value);
        return Interlocked.Read(ref _poolsHere) > 0 ? [new Measurement<long>(current)] : [];
    }

    public static void SetUnwatched(long unwatched, long watched)
    {
        Interlocked.Exchange(ref _unwatched, unwatched);
        Interlocked.Exchange(ref _watched, watched);
    }

    private static long _soonestExpiryTicks;

    /// <summary>No measurement while no subscription exists (an empty series, not a misleading zero).</summary>
    private static IEnumerable<Measurement<double>> SoonestExpiry()
    {
        var ticks = Interlocked.Read(ref _soonestExpiryTicks);
        if (ticks != 0 && Interlocked.Read(ref _poolsHere) > 0)
            yield return new Measurement<double>((new DateTimeOffset(ticks, TimeSpan.Zero) - DateTimeOffset.UtcNow).TotalSeconds);
    }

    public static void SetSubscriptions(long active, long unhealthyAccounts, DateTimeOffset? soonestExpiry = null)
    {
        Interlocked.Exchange(ref _soonestExpiryTicks, soonestExpiry?.UtcTicks ?? 0);
        Interlocked.Exchange(ref _subscriptions, active);
        Interlocked.Exchange(ref _unhealthyAccounts, unhealthyAccounts);
    }

    /// <summary>The pool singleton started on this node: from now its gauges are reported here.</summary>
    public static void PoolStarted() => Interlocked.Increment(ref _poolsHere);

    /// <summary>The pool stopped on this node (its singleton moved): its gauges report nothing here until it returns.</summary>
    public static void PoolStopped()
    {
        if (Interlocked.Decrement(ref _poolsHere) <= 0)
            Interlocked.Exchange(ref _soonestExpiryTicks, 0);
    }

    public static long Unwatched => Interlocked.Read(ref _unwatched);

    /// <summary>Dead letters this process has seen since it started.</summary>
    public static long DeadLetterCount => Interlocked.Read(ref _deadLetters);

    public static void OnDeadLetter(string messageType)
    {
        Interlocked.Increment(ref _deadLetters);
        DeadLetters.Add(1, new KeyValuePair<string, object?>("message", messageType));
    }
}
