using Microsoft.Extensions.Logging;

namespace PresenceActors.Webhooks;

/// <summary>
/// The warning for items dropped or refused, at most one line per reason every 10 s with the count since the last one:
/// a flood of forged items (one request may carry a thousand) must not become a flood of log lines. The metrics count
/// every item.
/// </summary>
internal sealed class DropLog(ILogger log)
{
    private static readonly long Every = 10_000;
    private readonly Dictionary<string, (long LastAt, long Since)> _reasons = new(StringComparer.Ordinal);

    public void Dropped(string reason, string? subscriptionId, int items = 1)
    {
        long since;
        lock (_reasons)
        {
            var now = Environment.TickCount64;
            var (lastAt, count) = _reasons.GetValueOrDefault(reason, (now - Every, 0));
            count += items;
            if (now - lastAt < Every)
            {
                _reasons[reason] = (lastAt, count);
                return;
            }

            _reasons[reason] = (now, 0);
            since = count;
        }

        log.LogWarning("notification-dropped reason={Reason} subscription={SubscriptionId} items={Items} (items for this reason since the last such line)",
            reason, subscriptionId ?? "-", since);
    }
}
