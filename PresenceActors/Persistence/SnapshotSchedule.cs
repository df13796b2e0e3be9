namespace PresenceActors.Persistence;

/// <summary>
/// When a singleton holding every user (registry, pool) snapshots: after at least <c>every</c> events and at least
/// <c>interval</c> after the last snapshot, so that a bulk load does not write its whole state every few hundred events.
/// </summary>
public sealed class SnapshotSchedule(int every, TimeSpan interval)
{
    private long _since;
    private DateTime _last = DateTime.MinValue;

    /// <summary>Counts <paramref name="events"/> journaled; true when a snapshot is due now (and counts it as taken).</summary>
    public bool Due(int events = 1)
    {
        _since += events;
        if (_since < every || DateTime.UtcNow - _last < interval)
            return false;
        _since = 0;
        _last = DateTime.UtcNow;
        return true;
    }
}
