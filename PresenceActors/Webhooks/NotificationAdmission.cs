using System.Text.Json;
using Microsoft.Extensions.Logging;
using PresenceActors.Ingress;
using static PresenceActors.Webhooks.NotificationJson;

namespace PresenceActors.Webhooks;

/// <summary>What the webhook answers for a notification collection.</summary>
public enum WebhookOutcome
{
    /// <summary>202: every item is in the ingress log, or was dropped for a reason that a resend would not cure.</summary>
    Accepted,

    /// <summary>400: not a changeNotificationCollection.</summary>
    Malformed,

    /// <summary>503 with Retry-After: the backlog is at its bound or the log could not commit in time; Graph sends them again.</summary>
    Refused,

    /// <summary>503 with Retry-After: items for subscriptions not (yet) published already wait up to their bound.</summary>
    UnknownSubscriptionsFull,

    /// <summary>413: more items than one request may carry.</summary>
    TooManyItems,

    /// <summary>503: an item is encrypted for a certificate this node does not hold (docs/operator-guide.md, symptoms).</summary>
    UnknownCertificate,
}

/// <summary>
/// The webhook's part inside the request (docs/decisions.md, "Persist-first ingress"): only the cheap checks (the JSON
/// shape, every item's clientState HMAC in constant time and its account, the certificate named), then the admitted
/// items, still encrypted, go to the ingress log in one group-committed write. The answer waits for that commit and
/// nothing else: decryption, validationTokens and the users' actors come after it (<see cref="NotificationHandler"/>).
/// </summary>
public sealed class NotificationAdmission(
    ItemAuthenticity authenticity,
    NotificationDecryptor decryptor,
    WebhookMetrics metrics,
    IngressLog ingress,
    IngressOptions options,
    ILogger<NotificationAdmission> log)
{
    /// <summary>
    /// Items one request may carry. Graph batches notifications well below it (the simulator: 100); beyond it a request
    /// is refused before any item is looked at, so a 1 MiB body of tiny items costs one count, not thousands of checks.
    /// </summary>
    public const int MaxItemsPerRequest = 1_000;

    private readonly DropLog _drops = new(log);

    /// <summary>How long the request may spend looking for a certificate in the cluster's store; beyond it the item is admitted and checked later.</summary>
    private static readonly TimeSpan CertificateLookup = TimeSpan.FromMilliseconds(300);

    /// <summary>Admits a changeNotificationCollection (<paramref name="kind"/> says from which URL) to the ingress log.</summary>
    /// <param name="body">The request's text, stored as it came when every item is admitted.</param>
    public async Task<WebhookOutcome> AdmitAsync(IngressKind kind, JsonElement root, string body, CancellationToken cancellationToken)
    {
        if (!TryItems(root, out var items))
            return WebhookOutcome.Malformed;
        metrics.OnReceived(items.Count);
        if (items.Count > MaxItemsPerRequest)
        {
            metrics.OnRefused("too-many-items", items.Count);
            _drops.Dropped("too-many-items", null, items.Count);
            return WebhookOutcome.TooManyItems;
        }

        var admitted = new List<JsonElement>(items.Count);
        var unknown = 0;
        foreach (var item in items)
        {
            if (authenticity.Check(item, out var subscriptionId) is { } reason)
            {
                Drop(reason, subscriptionId);
                continue;
            }

            if (kind == IngressKind.Notifications && Property(item, "encryptedContent") is { ValueKind: JsonValueKind.Object } content
                && !await HoldsCertificateAsync(content, cancellationToken))
            {
                // Authentic but encrypted for a certificate this node lacks even after reading the cluster's store: a
                // configuration fault, never a silent 202. The whole request is answered 503 so that Graph delivers it again
                // (through the load balancer, perhaps to a node that holds it), counted, and readiness fails.
                metrics.OnUnknownCertificate(Text(content, "encryptionCertificateId"), DateTimeOffset.UtcNow);
                metrics.OnNotTaken(items.Count);
                log.LogError("notification-unknown-certificate certificate={CertificateId} subscription={SubscriptionId}: this node holds {Held}; answered 503",
                    Text(content, "encryptionCertificateId") ?? "-", subscriptionId ?? "-", string.Join(",", decryptor.CertificateIds));
                return WebhookOutcome.UnknownCertificate;
            }

            if (!authenticity.IsKnown(subscriptionId!))
                unknown++;
            admitted.Add(item);
        }

        if (admitted.Count == 0)
            return WebhookOutcome.Accepted;
        var stored = admitted.Count == items.Count ? body : Collection(admitted, root);
        string? waitingFor = null;
        if (unknown > 0)
        {
            // Such items pass the clientState check and may wait for hours: bounded, so that a leaked clientState cannot
            // fill the backlog genuine items need (docs/reliability.md, "Security"). The whole entry counts, reserved
            // before it is stored.
            if (!ingress.TryReserveWaiting(ItemAuthenticity.UnknownSubscription, admitted.Count, stored.Length,
                    options.MaxUnknownSubscriptionItems, options.MaxUnknownSubscriptionBytes))
            {
                metrics.OnNotTaken(admitted.Count);
                metrics.OnRefused("unknown-subscription-full", admitted.Count);
                _drops.Dropped("unknown-subscription-full", null, admitted.Count);
                return WebhookOutcome.UnknownSubscriptionsFull;
            }

            waitingFor = ItemAuthenticity.UnknownSubscription;
        }

        var result = await ingress.AppendAsync(new IngressAppend(kind, stored, admitted.Count, PresenceTracing.CurrentTraceParent, waitingFor), cancellationToken);
        if (result == AppendResult.Committed)
            return WebhookOutcome.Accepted;
        metrics.OnNotTaken(admitted.Count);
        return WebhookOutcome.Refused;
    }

    private async Task<bool> HoldsCertificateAsync(JsonElement content, CancellationToken cancellationToken)
    {
        var (id, thumbprint) = (Text(content, "encryptionCertificateId"), Text(content, "encryptionCertificateThumbprint"));
        if (string.IsNullOrEmpty(id) && string.IsNullOrEmpty(thumbprint))
            return true; // names none: malformed, dropped when processed
        try
        {
            // Held (the usual case) is answered without a task; only a miss that reads the store waits, and not for long.
            var holds = decryptor.HoldsAsync(id, thumbprint, cancellationToken);
            return holds.IsCompletedSuccessfully ? holds.Result : await holds.AsTask().WaitAsync(CertificateLookup, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store is slow or away: admitted, and looked for again when processed (where it may wait).
            log.LogWarning("encryption-certificates-unreadable: {Message}", e.Message);
            return true;
        }
    }

    private void Drop(string reason, string? subscriptionId)
    {
        metrics.OnDropped(reason);
        _drops.Dropped(reason, subscriptionId);
    }
}
