using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.Logging;
using PresenceActors.Subscriptions;
using PresenceActors.Users;

namespace PresenceActors.Webhooks;

/// <summary>Where accepted notifications go: the user region and the pool (set once the actor system runs).</summary>
public sealed class WebhookTargets
{
    public IActorRef Users { get; set; } = ActorRefs.Nobody;

    public IActorRef Pool { get; set; } = ActorRefs.Nobody;
}

/// <summary>What the webhook answers for a notification collection.</summary>
public enum WebhookOutcome
{
    /// <summary>202: every item is journaled by its user's actor, or was dropped for a reason that a resend would not cure.</summary>
    Accepted,

    /// <summary>400: not a changeNotificationCollection.</summary>
    Malformed,

    /// <summary>503: some items were not confirmed in time (overload, a shard moving, the database away); Graph sends them again.</summary>
    NotTaken,
}

/// <summary>How long the webhook waits for the users' actors, and how much it lets wait at once.</summary>
public sealed record WebhookFlowOptions
{
    /// <summary>Graph waits 3 s and flags a host slower than 2.9 s: answer before that, 503 if the actors have not confirmed.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Items waiting for their actors beyond which new requests are refused at once (before decrypting them).</summary>
    public int MaxInFlight { get; init; } = 20_000;

    /// <summary>
    /// Authentic items of subscriptions this node does not know yet that may wait for their id at once; beyond it they
    /// are answered 503 (Graph sends them again) instead of held, so a flood of them cannot fill the memory.
    /// </summary>
    public int MaxWaitingForSubscription { get; init; } = 10_000;
}

/// <summary>
/// Checks and routes Graph's change notifications: every item's clientState in constant time, its
/// subscription against what the pool published, rich content decrypted and its validationTokens validated, duplicates
/// dropped, then one message per user to the shard region. The answer waits until every user's actor has journaled its
/// item (a few milliseconds): a 202 means nothing can be lost any more, and whatever is not confirmed within
/// <see cref="WebhookFlowOptions.AckTimeout"/> is answered 503 so Graph delivers it again. Under overload requests are
/// refused before they cost a decryption.
/// </summary>
public sealed class GraphNotificationProcessor(
    ClientStateSigner clientState,
    NotificationDecryptor decryptor,
    ValidationTokenValidator tokens,
    KnownSubscriptionsCache known,
    DuplicateFilter duplicates,
    WebhookMetrics metrics,
    WebhookTargets targets,
    WebhookFlowOptions flow,
    ILogger<GraphNotificationProcessor> log)
{
    private int _inFlight;
    private long _lastOverloadLog = long.MinValue / 2;

    /// <summary>Items waiting for their actors right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Processes a changeNotificationCollection.</summary>
    public Task<WebhookOutcome> ProcessNotificationsAsync(JsonElement root, CancellationToken cancellationToken) =>
        ProcessNotificationsAsync(root, countReceived: true, cancellationToken);

    private async Task<WebhookOutcome> ProcessNotificationsAsync(JsonElement root, bool countReceived, CancellationToken cancellationToken)
    {
        if (!TryItems(root, out var items))
            return WebhookOutcome.Malformed;
        if (countReceived)
            metrics.OnReceived(items.Count);
        var waiting = new List<(Task<UserPresenceCommands.Taken> Taken, string Signature)>();
        var refused = 0;
        var sendAgain = 0;
        bool? tokensValid = null;
        JsonElement? sharedTokens = null;
        var resync = new List<string>();
        for (var index = 0; index < items.Count; index++)
        {
            var item = items[index];
            if (InFlight >= flow.MaxInFlight)
            {
                // The actors are this far behind: leave the rest undecrypted and untouched for Graph to send again.
                refused = items.Count - index;
                break;
            }

            var reason = Check(item, out var subscriptionId);
            if (reason == "unknown-subscription")
            {
                // Authentic (the clientState verified) but not yet announced: a subscription just (re)created by the
                // pool can deliver before its id reaches this node. Checked again once the id is known, off the request.
                // What waits is the item and the request's tokens (copied once per request), never the whole body per item.
                if (Interlocked.Increment(ref _waitingForSubscription) > flow.MaxWaitingForSubscription)
                {
                    Interlocked.Decrement(ref _waitingForSubscription);
                    metrics.OnWaitRefused();
                    sendAgain++; // not held: Graph sends it again
                    continue;
                }

                // Held only if this node can decrypt it once the id is known: an unknown certificate is answered 503 now,
                // not dropped after a 202.
                if (Property(item, "encryptedContent") is { ValueKind: JsonValueKind.Object } waitingContent
                    && (Text(waitingContent, "encryptionCertificateId") ?? Text(waitingContent, "encryptionCertificateThumbprint")) is { Length: > 0 }
                    && !await HoldsCertificateAsync(waitingContent, cancellationToken))
                {
                    Interlocked.Decrement(ref _waitingForSubscription);
                    metrics.OnUnknownCertificate(Text(waitingContent, "encryptionCertificateId"), DateTimeOffset.UtcNow);
                    sendAgain++;
                    continue;
                }

                sharedTokens ??= Property(root, "validationTokens") is { } tokens ? tokens.Clone() : default(JsonElement);
                _ = RecheckLaterAsync(item.Clone(), sharedTokens.Value, subscriptionId!);
                continue;
            }

            if (reason is not null)
            {
                Drop(reason, subscriptionId);
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
                // A basic notification names the user only: read its presence.
                resync.Add(userId);
                metrics.OnAccepted();
                continue;
            }

            // A copy of an item already taken (Graph redelivers whole requests after a 503) is dropped before it costs an
            // RSA decryption. Only verified items are recorded, so a forgery carrying a genuine signature is dropped as a
            // copy only once the genuine item was processed, and cannot shadow it.
            var dataSignature = Text(encrypted, "dataSignature") ?? "";
            if (dataSignature.Length > 0 && duplicates.Seen(dataSignature))
            {
                Drop("duplicate", subscriptionId);
                continue;
            }

            tokensValid ??= await ValidTokens(root, cancellationToken);
            if (tokensValid != true)
            {
                Drop("validation-token", subscriptionId);
                continue;
            }

            var content = new EncryptedContent(Text(encrypted, "data") ?? "", dataSignature, Text(encrypted, "dataKey") ?? "",
                Text(encrypted, "encryptionCertificateId"), Text(encrypted, "encryptionCertificateThumbprint"));
            if (string.IsNullOrEmpty(content.EncryptionCertificateId) && string.IsNullOrEmpty(content.EncryptionCertificateThumbprint))
            {
                // Graph names the certificate in every rich item: content that names none is malformed, not a missing key.
                Drop("no-certificate", subscriptionId);
                continue;
            }
            byte[]? plaintext;
            string? problem;
            try
            {
                (plaintext, problem) = await decryptor.DecryptAsync(content, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The cluster's store could not be read (the database away): nothing is known about the item yet.
                log.LogWarning("encryption-certificates-unreadable: {Message}; answered 503", e.Message);
                sendAgain++;
                continue;
            }

            if (problem == NotificationDecryptor.UnknownCertificate)
            {
                // Authentic (its clientState verified) but encrypted for a certificate this node lacks even after reading
                // the cluster's store: a configuration fault, never a silent 202. Answered 503 so that Graph delivers it
                // again (through the load balancer, perhaps to a node that holds it), counted, and readiness fails.
                metrics.OnUnknownCertificate(content.EncryptionCertificateId, DateTimeOffset.UtcNow);
                log.LogError("notification-unknown-certificate certificate={CertificateId} subscription={SubscriptionId}: this node holds {Held}; answered 503",
                    content.EncryptionCertificateId ?? "-", subscriptionId ?? "-", string.Join(",", decryptor.CertificateIds));
                sendAgain++;
                continue;
            }

            if (plaintext is null)
            {
                Drop(problem!, subscriptionId);
                continue;
            }

            // Only verified content counts as seen, so that a tampered copy cannot shadow the genuine one.
            if (!duplicates.FirstTime(content.DataSignature))
            {
                Drop("duplicate", subscriptionId);
                continue;
            }

            if (!TryPresence(plaintext, userId, out var availability, out var activity, out var sequence))
            {
                Drop("bad-content", subscriptionId);
                continue;
            }

            Interlocked.Increment(ref _inFlight);
            var taken = targets.Users.Ask<UserPresenceCommands.Taken>(
                new UserPresenceCommands.ObserveTeamsPresence(userId, availability, activity, sequence, TeamsPresenceSource.Notification, Acknowledge: true,
                    TraceParent: PresenceTracing.CurrentTraceParent),
                flow.AckTimeout);
            _ = taken.ContinueWith(_ => Interlocked.Decrement(ref _inFlight), TaskScheduler.Default);
            waiting.Add((taken, content.DataSignature));
        }

        if (resync.Count > 0)
            targets.Pool.Tell(new SubscriptionPoolCommands.Resync([.. resync]));
        if (waiting.Count == 0 && refused == 0 && sendAgain == 0)
            return WebhookOutcome.Accepted;

        try
        {
            await Task.WhenAll(waiting.Select(w => w.Taken));
        }
        catch (Exception)
        {
            // Which ones failed is read below.
        }

        var missed = 0;
        foreach (var (taken, signature) in waiting)
        {
            if (taken.IsCompletedSuccessfully)
            {
                metrics.OnAccepted();
                continue;
            }

            // Not taken: forget it was seen, so that Graph's next delivery is not mistaken for a duplicate.
            duplicates.Forget(signature);
            missed++;
        }

        if (missed == 0 && refused == 0 && sendAgain == 0)
            return WebhookOutcome.Accepted;
        metrics.OnNotTaken(missed + refused + sendAgain);
        if (refused > 0 && Environment.TickCount64 - Interlocked.Read(ref _lastOverloadLog) > 10_000)
        {
            Interlocked.Exchange(ref _lastOverloadLog, Environment.TickCount64);
            log.LogWarning("webhook-overloaded: {InFlight} notifications wait for their users' actors (limit {Limit}); refusing more with 503 until they catch up, Graph delivers them again",
                InFlight, flow.MaxInFlight);
        }

        if (missed > 0)
        {
            log.LogWarning("notifications-not-taken count={Count}: the users' actors did not confirm within {Timeout} ms ({InFlight} waiting); answered 503, Graph delivers them again",
                missed, flow.AckTimeout.TotalMilliseconds, InFlight);
        }

        return WebhookOutcome.NotTaken;
    }

    /// <summary>How long an authentic item for a subscription this node does not know yet may wait for its id.</summary>
    public static readonly TimeSpan UnknownSubscriptionGrace = TimeSpan.FromSeconds(10);

    /// <summary>Items of subscriptions not yet known that wait for their id on this node.</summary>
    public int WaitingForSubscription => Volatile.Read(ref _waitingForSubscription);

    private int _waitingForSubscription;

    private async Task<bool> HoldsCertificateAsync(JsonElement content, CancellationToken cancellationToken)
    {
        try
        {
            return await decryptor.HoldsAsync(Text(content, "encryptionCertificateId"), Text(content, "encryptionCertificateThumbprint"), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning("encryption-certificates-unreadable: {Message}", e.Message);
            return true; // unknown yet: held, and checked again with the item
        }
    }

    private async Task RecheckLaterAsync(JsonElement item, JsonElement tokens, string subscriptionId)
    {
        try
        {
            await RecheckAsync(item, tokens, subscriptionId);
        }
        catch (Exception e)
        {
            // Graph was answered already: say so loudly, and count it, rather than let the task fail unseen.
            log.LogError(e, "notification-recheck-failed subscription={SubscriptionId}", subscriptionId);
            metrics.OnDropped("recheck-failed");
        }
        finally
        {
            Interlocked.Decrement(ref _waitingForSubscription);
        }
    }

    private async Task RecheckAsync(JsonElement item, JsonElement tokens, string subscriptionId)
    {
        if (!await known.WaitForAsync(subscriptionId, UnknownSubscriptionGrace, CancellationToken.None))
        {
            Drop("unknown-subscription", subscriptionId);
            return;
        }

        var single = new JsonObject
        {
            ["value"] = new JsonArray(JsonNode.Parse(item.GetRawText())),
            ["validationTokens"] = tokens.ValueKind == JsonValueKind.Undefined ? null : JsonNode.Parse(tokens.GetRawText()),
        };
        using var document = JsonDocument.Parse(single.ToJsonString());
        // Graph was already answered: if the actor does not confirm, try again (the item is counted when it first arrived).
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            if (await ProcessNotificationsAsync(document.RootElement, countReceived: false, CancellationToken.None) != WebhookOutcome.NotTaken)
                return;
            await Task.Delay(flow.AckTimeout * attempt);
        }

        Drop("not-taken", subscriptionId);
    }

    /// <summary>Lifecycle events: presence only ever gets reauthorizationRequired, but the others are handled too.</summary>
    public bool ProcessLifecycle(JsonElement root)
    {
        if (!TryItems(root, out var items))
            return false;
        metrics.OnReceived(items.Count);
        foreach (var item in items)
        {
            if (Check(item, out var subscriptionId) is { } reason)
            {
                Drop(reason, subscriptionId);
                continue;
            }

            switch (Text(item, "lifecycleEvent"))
            {
                case "reauthorizationRequired":
                    targets.Pool.Tell(new SubscriptionPoolCommands.ReauthorizationRequired(subscriptionId!));
                    break;
                case "subscriptionRemoved" or "missed":
                    targets.Pool.Tell(new SubscriptionPoolCommands.Resync([]));
                    break;
                default:
                    Drop("unknown-lifecycle-event", subscriptionId);
                    continue;
            }

            metrics.OnAccepted();
        }

        return true;
    }

    private string? Check(JsonElement item, out string? subscriptionId)
    {
        subscriptionId = Text(item, "subscriptionId");
        if (item.ValueKind != JsonValueKind.Object || string.IsNullOrEmpty(subscriptionId))
            return "malformed-item";
        if (!clientState.Verify(Text(item, "clientState"), out var accountTag))
            return "client-state";
        if (known.Initialized && !known.Contains(subscriptionId))
            return "unknown-subscription";
        // A genuine clientState of one technical account does not vouch for another account's subscription.
        if (known.AccountTagOf(subscriptionId) is { } expected && expected != accountTag)
            return "client-state";
        return null;
    }

    private void Drop(string reason, string? subscriptionId)
    {
        metrics.OnDropped(reason);
        log.LogWarning("notification-dropped reason={Reason} subscription={SubscriptionId}", reason, subscriptionId ?? "-");
    }

    private async Task<bool> ValidTokens(JsonElement root, CancellationToken cancellationToken)
    {
        if (Property(root, "validationTokens") is not { ValueKind: JsonValueKind.Array } array)
            return false;
        var list = array.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList();
        try
        {
            return await tokens.AllValidAsync(list, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning("validation-tokens-unchecked: {Message}", e.Message);
            return false;
        }
    }

    private static bool TryItems(JsonElement root, out List<JsonElement> items)
    {
        items = [];
        if (root.ValueKind != JsonValueKind.Object || Property(root, "value") is not { ValueKind: JsonValueKind.Array } value)
            return false;
        items = [.. value.EnumerateArray()];
        return true;
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

    private static JsonElement? Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;

    private static string? Text(JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
