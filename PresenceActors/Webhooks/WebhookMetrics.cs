using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace PresenceActors.Webhooks;

/// <summary>Counters of the public webhook: items received, accepted, and dropped by reason.</summary>
public sealed class WebhookMetrics
{
    private static readonly Meter Meter = new(PresenceMetrics.MeterName);
    private static readonly Counter<long> ReceivedCounter = Meter.CreateCounter<long>("presence.notifications.received");
    private static readonly Counter<long> AcceptedCounter = Meter.CreateCounter<long>("presence.notifications.accepted");
    private static readonly Counter<long> DroppedCounter = Meter.CreateCounter<long>("presence.notifications.dropped");

    private readonly ConcurrentDictionary<string, long> _dropped = new();
    private long _received;
    private long _accepted;

    public long Received => Interlocked.Read(ref _received);

    public long Accepted => Interlocked.Read(ref _accepted);

    public IReadOnlyDictionary<string, long> Dropped => _dropped;

    public long DroppedFor(string reason) => _dropped.GetValueOrDefault(reason);

    public void OnReceived(int items)
    {
        Interlocked.Add(ref _received, items);
        ReceivedCounter.Add(items);
    }

    public void OnAccepted()
    {
        Interlocked.Increment(ref _accepted);
        AcceptedCounter.Add(1);
    }

    public void OnDropped(string reason)
    {
        _dropped.AddOrUpdate(reason, 1, (_, n) => n + 1);
        DroppedCounter.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }
}
