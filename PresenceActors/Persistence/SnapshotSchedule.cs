namespace PresenceActors.Persistence;

/// <summary>
/// When a singleton holding every user (registry, pool) snapshots: once the load is quiet (nothing journaled for
/// <c>quiet</c>) after any change, and under a load that never pauses after at least <c>every</c> events and at least
/// <c>interval</c> after the last snapshot. A snapshot writes the whole state, a million users' worth at scale, so a
/// bulk load must not write it every few seconds (docs/scale.md, "Snapshots when quiet").
/// </summary>
public sealed class SnapshotSchedule(int every, TimeSpan interval, TimeSpan quiet)
{
    private long _since;
    private DateTime _last = DateTime.UtcNow;

    /// <summary>How long nothing is journaled before the state is snapshotted (restart a timer of this length per write).</summary>
    public TimeSpan QuietAfter => quiet;

    /// <summary>Counts <paramref name="events"/> journaled; true when a snapshot is due now under load (and counts it as taken).</summary>
    public bool Due(int events = 1)
    {
        _since += events;
        if (_since < every || DateTime.UtcNow - _last < interval)
            return false;
        Taken();
        return true;
    }

    /// <summary>The load was quiet for <see cref="QuietAfter"/>: true when anything was journaled since the last snapshot.</summary>
    public bool DueWhenQuiet()
    {
        if (_since == 0)
            return false;
        Taken();
        return true;
    }

    private void Taken()
    {
        _since = 0;
        _last = DateTime.UtcNow;
    }
}
