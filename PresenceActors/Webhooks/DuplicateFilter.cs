namespace PresenceActors.Webhooks;

/// <summary>Remembers the last N keys seen (Graph delivers at least once); bounded memory, oldest forgotten first.</summary>
public sealed class DuplicateFilter(int capacity = 200_000)
{
    private readonly object _gate = new();
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>Whether the key was seen (and not forgotten), without recording it.</summary>
    public bool Seen(string key)
    {
        lock (_gate)
            return _seen.Contains(key);
    }

    /// <summary>True the first time a key is seen.</summary>
    public bool FirstTime(string key)
    {
        lock (_gate)
        {
            if (!_seen.Add(key))
                return false;
            _order.Enqueue(key);
            if (_order.Count > capacity)
                _seen.Remove(_order.Dequeue());
            return true;
        }
    }

    /// <summary>Forgets a key (its item was not processed after all), so that its next delivery counts as the first.</summary>
    public void Forget(string key)
    {
        lock (_gate)
            _seen.Remove(key); // its old queue entry may later forget a redelivery early: the actor's sequence check still drops that copy
    }
}
