using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace PresenceActors.Webhooks;

/// <summary>Counters of the public webhook: items received, accepted, and dropped by reason.</summary>
public sealed class WebhookMetrics
{
    private readonly Counter<long> _receivedCounter;
    private readonly Counter<long> _acceptedCounter;
    private readonly Counter<long> _droppedCounter;
    private readonly Counter<long> _notTakenCounter;
    private readonly Counter<long> _unknownCertificateCounter;
    private readonly Counter<long> _refusedCounter;

    /// <param name="meters">The node's meter factory (docs/architecture.md, "Metrics"): the node's instruments, not the process's.</param>
    public WebhookMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(PresenceMetrics.MeterName);
        _receivedCounter = meter.CreateCounter<long>("presence.notifications.received");
        _acceptedCounter = meter.CreateCounter<long>("presence.notifications.accepted");
        _droppedCounter = meter.CreateCounter<long>("presence.notifications.dropped");
        _notTakenCounter = meter.CreateCounter<long>("presence.notifications.not_taken",
            description: "Items answered 503 (the ingress backlog full, its commit late, or a certificate unknown); Graph delivers them again");
        _unknownCertificateCounter = meter.CreateCounter<long>("presence.notifications.unknown_certificate",
            description: "Items encrypted for a certificate neither this node nor the cluster's store holds; answered 503, the node is not ready meanwhile");
        _refusedCounter = meter.CreateCounter<long>("presence.notifications.refused",
            description: "Items of requests refused before admission, by reason: too-many-items (413) and unknown-subscription-full (503, Graph delivers them again)");
    }

    private readonly ConcurrentDictionary<string, long> _dropped = new();
    private long _received;
    private long _accepted;
    private long _notTaken;

    public long Received => Interlocked.Read(ref _received);

    public long Accepted => Interlocked.Read(ref _accepted);

    public IReadOnlyDictionary<string, long> Dropped => _dropped;

    /// <summary>Items answered 503 (the ingress backlog full, its commit late, a certificate unknown): Graph sends them again.</summary>
    public long NotTaken => Interlocked.Read(ref _notTaken);

    public long DroppedFor(string reason) => _dropped.GetValueOrDefault(reason);

    /// <summary>Items received minute by minute over the last hour (the status page's charts).</summary>
    public PresenceActors.UcFrontEnd.MinuteSeries LastHour { get; } = new();

    public void OnReceived(int items)
    {
        Interlocked.Add(ref _received, items);
        LastHour.Count(items);
        _receivedCounter.Add(items);
    }

    private long _tokenChecks;

    /// <summary>Requests whose validationTokens were checked (once per request, again when its entry is retried).</summary>
    public long TokenChecks => Interlocked.Read(ref _tokenChecks);

    public void OnTokensChecked() => Interlocked.Increment(ref _tokenChecks);

    public void OnAccepted()
    {
        Interlocked.Increment(ref _accepted);
        _acceptedCounter.Add(1);
    }

    public void OnNotTaken(int items)
    {
        Interlocked.Add(ref _notTaken, items);
        _notTakenCounter.Add(items);
    }

    /// <summary>Items encrypted for a certificate this node could not find, even in the cluster's store.</summary>
    public long UnknownCertificates => Interlocked.Read(ref _unknownCertificates);

    /// <summary>When the last such item came, and the certificate it named (for readiness and the operator).</summary>
    public UnknownCertificateSeen? LastUnknownCertificate => Volatile.Read(ref _lastUnknownCertificate);

    public sealed record UnknownCertificateSeen(DateTimeOffset At, string CertificateId);

    private long _unknownCertificates;
    private UnknownCertificateSeen? _lastUnknownCertificate;

    public void OnUnknownCertificate(string? certificateId, DateTimeOffset at)
    {
        Interlocked.Increment(ref _unknownCertificates);
        Volatile.Write(ref _lastUnknownCertificate, new UnknownCertificateSeen(at, certificateId ?? "(none)"));
        _unknownCertificateCounter.Add(1);
    }

    public void OnDropped(string reason)
    {
        _dropped.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _droppedCounter.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    private readonly ConcurrentDictionary<string, long> _refused = new();

    /// <summary>Items of requests refused at the door, by reason.</summary>
    public long RefusedFor(string reason) => _refused.GetValueOrDefault(reason);

    public void OnRefused(string reason, int items)
    {
        _refused.AddOrUpdate(reason, items, (_, n) => n + items);
        _refusedCounter.Add(items, new KeyValuePair<string, object?>("reason", reason));
    }
}
