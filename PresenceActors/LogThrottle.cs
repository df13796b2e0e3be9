namespace PresenceActors;

/// <summary>
/// At most one log line per key and interval, carrying the number of occurrences since the last line written: a flood of
/// the same condition (a thousand forged items in one request, a journal that stays stalled) must not become a flood of
/// log lines. The first occurrence of a burst passes at once; the metrics count every one.
/// </summary>
internal sealed class LogThrottle(TimeSpan interval, TimeProvider? clock = null)
{
    /// <summary>The interval the service's throttled warnings use.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Dictionary<string, (long LastAt, long Since)?> _keys = new(StringComparer.Ordinal);

    public LogThrottle() : this(Default)
    {
    }

    /// <summary>
    /// Counts <paramref name="occurrences"/> for <paramref name="key"/>; true when a line may be written now, with
    /// <paramref name="since"/> the occurrences counted since the last line (these included).
    /// </summary>
    public bool Pass(string key, long occurrences, out long since)
    {
        lock (_keys)
        {
            var now = _clock.GetTimestamp();
            since = occurrences;
            if (_keys.GetValueOrDefault(key) is { } last)
            {
                since += last.Since;
                if (_clock.GetElapsedTime(last.LastAt, now) < interval)
                {
                    _keys[key] = (last.LastAt, since);
                    return false;
                }
            }

            _keys[key] = (now, 0);
            return true;
        }
    }
}
