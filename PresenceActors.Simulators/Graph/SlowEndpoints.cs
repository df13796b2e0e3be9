using System.Collections.Concurrent;

namespace PresenceActors.Simulators.Graph;

/// <summary>How a notification endpoint stands with Graph.</summary>
public enum EndpointStanding
{
    Normal,

    /// <summary>10 % or more of its notifications were slow: every delivery to it waits <see cref="SlowEndpointRules.Delay"/>.</summary>
    Delayed,

    /// <summary>15 % or more: its notifications are dropped.</summary>
    Dropping,
}

/// <summary>
/// Graph's rules for slow notification endpoints, per host: an answer slower than <see cref="SlowAfter"/> (or none within
/// the 3 s timeout) is slow; once <see cref="MinimumNotifications"/> notifications went to the host within a
/// <see cref="Window"/>, a slow share of <see cref="DelayAt"/> delays every delivery to it by <see cref="Delay"/> and a share
/// of <see cref="DropAt"/> drops them; the counts start again every window. The timings scale for tests.
/// </summary>
public sealed record SlowEndpointRules
{
    public bool Enabled { get; init; } = true;

    public TimeSpan SlowAfter { get; init; } = TimeSpan.FromMilliseconds(2900);

    public int MinimumNotifications { get; init; } = 100;

    public double DelayAt { get; init; } = 0.10;

    public double DropAt { get; init; } = 0.15;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan Delay { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>The simulator's record of each host's notifications in the current window.</summary>
public sealed class SlowEndpointTracker(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, Record> _hosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The clock windows roll on and answers are timed with.</summary>
    public TimeProvider Clock => clock;

    public SlowEndpointRules Rules { get; set; } = new();

    /// <summary>What a host's counts and standing are now: notifications sent and slow in this window.</summary>
    public (long Sent, long Slow, EndpointStanding Standing) Of(string host)
    {
        var record = _hosts.GetOrAdd(host, _ => new Record(clock.GetUtcNow()));
        lock (record)
        {
            Roll(record);
            return (record.Sent, record.Slow, Standing(record));
        }
    }

    public EndpointStanding StandingOf(string host) => Of(host).Standing;

    /// <summary>Counts a delivery of <paramref name="items"/> notifications answered in <paramref name="took"/> (null: no answer in time).</summary>
    public void Count(string host, int items, TimeSpan? took)
    {
        var record = _hosts.GetOrAdd(host, _ => new Record(clock.GetUtcNow()));
        lock (record)
        {
            Roll(record);
            record.Sent += items;
            if (took is not { } answered || answered > Rules.SlowAfter)
                record.Slow += items;
        }
    }

    private void Roll(Record record)
    {
        var now = clock.GetUtcNow();
        if (now - record.WindowStart < Rules.Window)
            return;
        record.WindowStart = now;
        record.Sent = 0;
        record.Slow = 0;
    }

    private EndpointStanding Standing(Record record)
    {
        if (!Rules.Enabled || record.Sent < Rules.MinimumNotifications)
            return EndpointStanding.Normal;
        var share = (double)record.Slow / record.Sent;
        return share >= Rules.DropAt ? EndpointStanding.Dropping : share >= Rules.DelayAt ? EndpointStanding.Delayed : EndpointStanding.Normal;
    }

    private sealed class Record(DateTimeOffset windowStart)
    {
        public DateTimeOffset WindowStart { get; set; } = windowStart;

        public long Sent { get; set; }

        public long Slow { get; set; }
    }
}
