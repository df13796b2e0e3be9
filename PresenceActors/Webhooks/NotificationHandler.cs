using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Microsoft.Extensions.Logging;
using PresenceActors.Ingress;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using static PresenceActors.Webhooks.NotificationJson;

namespace PresenceActors.Webhooks;

/// <summary>Where processed notifications go: the user region and the pool (set once the actor system runs).</summary>
public sealed class WebhookTargets
{
    public IActorRef Users { get; set; } = ActorRefs.Nobody;

    public IActorRef Pool { get; set; } = ActorRefs.Nobody;
}

/// <summary>
/// Processes an ingress log entry after Graph was answered (docs/decisions.md, "Persist-first ingress"): each item's
/// subscription against what the pool published, duplicates dropped before they cost an RSA decryption, the
/// validationTokens validated, rich content decrypted, then one message per user to the shard region, confirmed once
/// the user's actor journaled it. Only items proven worthless are dropped (forged, undecryptable, duplicates, content for
/// another user); whatever cannot be done yet (a subscription not yet published, Entra's signing keys or the
/// certificate store unreachable, an actor that does not confirm because its shard is moving or its node died) stays
/// in the entry and is tried again.
/// </summary>
public sealed class NotificationHandler(
    ItemAuthenticity authenticity,
    NotificationDecryptor decryptor,
    ValidationTokenValidator tokens,
    DuplicateFilter duplicates,
    WebhookMetrics metrics,
    WebhookTargets targets,
    PresenceActors.Cluster.ClusterQuorum quorum,
    IngressOptions options,
    ILogger<NotificationHandler> log) : IIngressHandler
{
    private long _lastWaitLog = long.MinValue / 2;
    private readonly DropLog _drops = new(log);

    /// <summary>Why an entry waits while this node sees only a minority of the cluster (ClusterQuorum).</summary>
    public const string NoQuorum = "no-quorum";

    public async Task<IngressOutcome> HandleAsync(IngressEntry entry, CancellationToken cancellationToken)
    {
        // Cut off with a minority: the users' actors here may be started on the other side any moment; nothing is fed
        // to them until this node sees a majority again, or it is downed and the survivors take the entry over.
        if (!quorum.Held)
        {
            LogWaiting(entry.Items, NoQuorum);
            return new IngressOutcome(entry.Body, entry.Items, NoQuorum, Soon: true);
        }
        using var document = JsonDocument.Parse(entry.Body);
        var root = document.RootElement;
        if (!TryItems(root, out var items))
        {
            Drop("malformed-item", null);
            return IngressOutcome.Done;
        }

        var later = new Later();
        if (entry.Kind == IngressKind.Lifecycle)
            await LifecycleAsync(items, later);
        else
            await NotificationsAsync(root, items, entry.TraceParent, later, cancellationToken);
        if (later.Items.Count == 0)
            return IngressOutcome.Done;
        LogWaiting(later.Items.Count, later.Reason);
        return new IngressOutcome(Collection(later.Items, root), later.Items.Count, later.Reason,
            later.Subscription is { } id ? timeout => authenticity.WhenKnownAsync(id, timeout) : null, Soon: later.Reason is "not-confirmed" or "pool-unavailable");
    }

    /// <summary>Items kept for the next attempt, and why the first of them waits.</summary>
    private sealed class Later
    {
        public List<JsonElement> Items { get; } = [];

        public string? Reason { get; private set; }

        /// <summary>A subscription whose publication makes trying again worth it at once.</summary>
        public string? Subscription { get; private set; }

        public void Add(JsonElement item, string reason, string? subscription = null)
        {
            Items.Add(item);
            // An entry with any item waiting for an unknown subscription is counted under that reason (its bound,
            // NotificationAdmission), whatever else waits beside it.
            Reason = Reason is null || reason == ItemAuthenticity.UnknownSubscription ? reason : Reason;
            Subscription ??= subscription;
        }
    }

    private async Task NotificationsAsync(JsonElement root, List<JsonElement> items, string? traceParent, Later later, CancellationToken cancellationToken)
    {
        var confirming = new List<(Task<UserPresenceCommands.Taken> Taken, string Signature, JsonElement Item)>();
        var basic = new List<(string UserId, JsonElement Item)>();
        bool? tokensValid = null;
        var tokensChecked = false;
        foreach (var item in items)
        {
            if (authenticity.Check(item, out var subscriptionId) is { } reason)
            {
                Drop(reason, subscriptionId);
                continue;
            }

            if (!authenticity.IsKnown(subscriptionId!))
            {
                later.Add(item, ItemAuthenticity.UnknownSubscription, subscriptionId);
                continue;
            }

            var userId = Text(Property(item, "resourceData"), "id");
            if (string.IsNullOrEmpty(userId))
            {
                Drop("no-resource-id", subscriptionId);
                continue;
            }

            if (Property(item, "encryptedContent") is not { ValueKind: JsonValueKind.Object } encrypted)
            {
                basic.Add((userId, item)); // a basic notification names the user only: its presence is read
                continue;
            }

            // A copy of an item already processed (Graph redelivers a request answered 503 whose commit landed late) is
            // dropped before it costs an RSA decryption. Only verified items are recorded, so a forgery carrying a genuine
            // signature is dropped as a copy only once the genuine item was processed, and cannot shadow it.
            var signature = Text(encrypted, "dataSignature") ?? "";
            if (signature.Length > 0 && duplicates.Seen(signature))
            {
                Drop("duplicate", subscriptionId);
                continue;
            }

            if (!tokensChecked)
            {
                tokensValid = await ValidTokensAsync(root, cancellationToken);
                tokensChecked = true;
            }

            if (tokensValid is null)
            {
                later.Add(item, "validation-keys-unreachable");
                continue;
            }

            if (tokensValid == false)
            {
                Drop("validation-token", subscriptionId);
                continue;
            }

            var content = new EncryptedContent(Text(encrypted, "data") ?? "", signature, Text(encrypted, "dataKey") ?? "",
                Text(encrypted, "encryptionCertificateId"), Text(encrypted, "encryptionCertificateThumbprint"));
            if (string.IsNullOrEmpty(content.EncryptionCertificateId) && string.IsNullOrEmpty(content.EncryptionCertificateThumbprint))
            {
                // Graph names the certificate in every rich item: content that names none is malformed, not a missing key.
                Drop("no-certificate", subscriptionId);
                continue;
            }

            var (plaintext, problem) = await DecryptAsync(content, cancellationToken);
            if (problem is "certificates-unreadable" or NotificationDecryptor.UnknownCertificate)
            {
                if (problem == NotificationDecryptor.UnknownCertificate)
                    metrics.OnUnknownCertificate(content.EncryptionCertificateId, DateTimeOffset.UtcNow);
                later.Add(item, problem);
                continue;
            }

            if (plaintext is null)
            {
                Drop(problem!, subscriptionId);
                continue;
            }

            // Only verified content counts as seen, so that a tampered copy cannot shadow the genuine one.
            if (!duplicates.FirstTime(signature))
            {
                Drop("duplicate", subscriptionId);
                continue;
            }

            if (!TryPresence(plaintext, userId, out var availability, out var activity, out var sequence))
            {
                Drop("bad-content", subscriptionId);
                continue;
            }

            var taken = targets.Users.Ask<UserPresenceCommands.Taken>(
                new UserPresenceCommands.ObserveTeamsPresence(userId, availability, activity, sequence, TeamsPresenceSource.Notification, Acknowledge: true,
                    TraceParent: traceParent),
                options.ConfirmTimeout);
            confirming.Add((taken, signature, item));
        }

        if (basic.Count > 0)
            await ResyncAsync(basic, later);
        await Task.WhenAll(confirming.Select(c => c.Taken.ContinueWith(_ => { }, TaskScheduler.Default)));
        foreach (var (taken, signature, item) in confirming)
        {
            if (taken.IsCompletedSuccessfully)
            {
                metrics.OnAccepted();
                continue;
            }

            // Not confirmed: forget it was seen, so that the next attempt is not mistaken for a duplicate.
            duplicates.Forget(signature);
            later.Add(item, "not-confirmed");
        }
    }

    /// <summary>Lifecycle events: presence only ever gets reauthorizationRequired, but the others are handled too.</summary>
    private async Task LifecycleAsync(List<JsonElement> items, Later later)
    {
        foreach (var item in items)
        {
            if (authenticity.Check(item, out var subscriptionId) is { } reason)
            {
                Drop(reason, subscriptionId);
                continue;
            }

            object? command = Text(item, "lifecycleEvent") switch
            {
                "reauthorizationRequired" => new SubscriptionPoolCommands.ReauthorizationRequired(subscriptionId!),
                "subscriptionRemoved" or "missed" => new SubscriptionPoolCommands.Resync([]),
                _ => null,
            };
            if (command is null)
            {
                Drop("unknown-lifecycle-event", subscriptionId);
                continue;
            }

            if (await PoolTakesAsync(command))
                metrics.OnAccepted();
            else
                later.Add(item, "pool-unavailable");
        }
    }

    private async Task ResyncAsync(List<(string UserId, JsonElement Item)> basic, Later later)
    {
        if (await PoolTakesAsync(new SubscriptionPoolCommands.Resync([.. basic.Select(b => b.UserId)])))
        {
            foreach (var _ in basic)
                metrics.OnAccepted();
            return;
        }

        foreach (var (_, item) in basic)
            later.Add(item, "pool-unavailable");
    }

    /// <summary>Whether the pool (a singleton, perhaps moving) confirmed the command.</summary>
    private async Task<bool> PoolTakesAsync(object command)
    {
        try
        {
            await targets.Pool.Ask<SubscriptionPoolCommands.CommandResult>(command, options.ConfirmTimeout);
            return true;
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return false;
        }
    }

    private async Task<(byte[]? Plaintext, string? Problem)> DecryptAsync(EncryptedContent content, CancellationToken cancellationToken)
    {
        try
        {
            return await decryptor.DecryptAsync(content, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The cluster's store could not be read (the database away): nothing is known about the item yet.
            log.LogWarning("encryption-certificates-unreadable: {Message}; the item waits", e.Message);
            return (null, "certificates-unreadable");
        }
    }

    /// <summary>True or false once checked; null when Entra's signing keys could not be read (the items wait).</summary>
    private async Task<bool?> ValidTokensAsync(JsonElement root, CancellationToken cancellationToken)
    {
        metrics.OnTokensChecked();
        if (Property(root, "validationTokens") is not { ValueKind: JsonValueKind.Array } array)
            return false;
        var list = array.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList();
        try
        {
            return await tokens.AllValidAsync(list, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning("validation-tokens-unchecked: {Message}; the items wait", e.Message);
            return null;
        }
    }

    private void LogWaiting(int count, string? reason)
    {
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastWaitLog) < 10_000)
            return;
        Interlocked.Exchange(ref _lastWaitLog, now);
        log.LogWarning("notifications-waiting count={Count} reason={Reason}: kept in the ingress log and tried again", count, reason);
    }

    private void Drop(string reason, string? subscriptionId)
    {
        metrics.OnDropped(reason);
        _drops.Dropped(reason, subscriptionId);
    }

    private static bool TryPresence(byte[] plaintext, string userId, out string availability, out string activity, out string? sequence)
    {
        availability = activity = "";
        sequence = null;
        try
        {
            using var document = JsonDocument.Parse(plaintext);
            var root = document.RootElement;
            if (Text(root, "id") is { } id && !string.Equals(id, userId, StringComparison.OrdinalIgnoreCase))
                return false; // content for another user than the envelope names
            availability = Text(root, "availability") ?? "";
            activity = Text(root, "activity") ?? "";
            sequence = Text(root, "sequenceNumber");
            return availability.Length > 0 && activity.Length > 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
