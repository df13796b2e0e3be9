namespace PresenceActors.Ingress;

/// <summary>
/// What the log's entries wait for, by reason, with their bytes: the admission's bound on items for subscriptions not
/// yet published reads it (docs/decisions.md, "Bounded work for what cannot be processed yet").
/// </summary>
public sealed partial class IngressLog
{
    private readonly Dictionary<string, (int Items, long Bytes)> _waiting = new(StringComparer.Ordinal);

    /// <summary>Items (and their bytes) that wait for <paramref name="reason"/>, by their entry's reason.</summary>
    public (int Items, long Bytes) Waiting(string reason)
    {
        lock (_waiting)
            return _waiting.GetValueOrDefault(reason);
    }

    /// <summary>
    /// Counts an append's items as waiting for <paramref name="reason"/> before they are stored, if they fit within the
    /// bounds: the check and the count are one step, so a burst of requests cannot all pass on the same figure. The
    /// append then carries the reason (<see cref="IngressAppend.WaitingFor"/>); if it is not stored, the count is undone.
    /// </summary>
    public bool TryReserveWaiting(string reason, int items, long bytes, int maxItems, long maxBytes)
    {
        lock (_waiting)
        {
            var (i, b) = _waiting.GetValueOrDefault(reason);
            if (i + items > maxItems || b + bytes > maxBytes)
                return false;
            _waiting[reason] = (i + items, b + bytes);
            return true;
        }
    }

    private void CountWaiting(string? reason, int items, long bytes)
    {
        if (reason is not null)
            TryReserveWaiting(reason, items, bytes, int.MaxValue, long.MaxValue);
    }
}
