using Microsoft.Extensions.Logging;

namespace PresenceActors.Webhooks;

/// <summary>
/// The warning for items dropped or refused, at most one line per reason every 10 s with the count since the last one
/// (<see cref="LogThrottle"/>). The metrics count every item.
/// </summary>
internal sealed class DropLog(ILogger log)
{
    private readonly LogThrottle _throttle = new();

    public void Dropped(string reason, string? subscriptionId, int items = 1)
    {
        if (_throttle.Pass(reason, items, out var since))
            log.LogWarning("notification-dropped reason={Reason} subscription={SubscriptionId} items={Items} (items for this reason since the last such line)",
                reason, subscriptionId ?? "-", since);
    }
}
