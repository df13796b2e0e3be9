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

/// <summary>
/// Checks and routes Graph's change notifications (DESIGN 3.1): every item's clientState in constant time, its
/// subscription against what the pool published, rich content decrypted and its validationTokens validated, duplicates
/// dropped, then one message per user to the shard region. Nothing here waits on the database, Graph or UC.
/// </summary>
public sealed class GraphNotificationProcessor(
    ClientStateSigner clientState,
    NotificationDecryptor decryptor,
    ValidationTokenValidator tokens,
    KnownSubscriptionsCache known,
    DuplicateFilter duplicates,
    WebhookMetrics metrics,
    WebhookTargets targets,
    ILogger<GraphNotificationProcessor> log)
{
    /// <summary>Processes a changeNotificationCollection; returns false when its shape is not one (a 400 for the caller).</summary>
    public Task<bool> ProcessNotificationsAsync(JsonElement root, CancellationToken cancellationToken) =>
        ProcessNotificationsAsync(root, countReceived: true, cancellationToken);

    private async Task<bool> ProcessNotificationsAsync(JsonElement root, bool countReceived, CancellationToken cancellationToken)
    {
        if (!TryItems(root, out var items))
            return false;
        if (countReceived)
            metrics.OnReceived(items.Count);

        bool? tokensValid = null;
        var resync = new List<string>();
        foreach (var item in items)
        {
            var reason = Check(item, out var subscriptionId);
            if (reason == "unknown-subscription")
            {
                // Authentic (the clientState verified) but not yet announced: a subscription just (re)created by the
                // pool can deliver before its id reaches this node. Checked again once the id is known, off the request.
                _ = RecheckLaterAsync(item.Clone(), root.Clone(), subscriptionId!);
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

            tokensValid ??= await ValidTokens(root, cancellationToken);
            if (tokensValid != true)
            {
                Drop("validation-token", subscriptionId);
                continue;
            }

            var content = new EncryptedContent(Text(encrypted, "data") ?? "", Text(encrypted, "dataSignature") ?? "", Text(encrypted, "dataKey") ?? "",
                Text(encrypted, "encryptionCertificateId"), Text(encrypted, "encryptionCertificateThumbprint"));
            var plaintext = decryptor.Decrypt(content, out var problem);
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

            targets.Users.Tell(new UserPresenceCommands.ObserveTeamsPresence(userId, availability, activity, sequence, TeamsPresenceSource.Notification));
            metrics.OnAccepted();
        }

        if (resync.Count > 0)
            targets.Pool.Tell(new SubscriptionPoolCommands.Resync([.. resync]));
        return true;
    }

    /// <summary>How long an authentic item for a subscription this node does not know yet may wait for its id.</summary>
    public static readonly TimeSpan UnknownSubscriptionGrace = TimeSpan.FromSeconds(10);

    private async Task RecheckLaterAsync(JsonElement item, JsonElement root, string subscriptionId)
    {
        if (!await known.WaitForAsync(subscriptionId, UnknownSubscriptionGrace, CancellationToken.None))
        {
            Drop("unknown-subscription", subscriptionId);
            return;
        }

        var single = new JsonObject
        {
            ["value"] = new JsonArray(JsonNode.Parse(item.GetRawText())),
            ["validationTokens"] = root.TryGetProperty("validationTokens", out var tokens) ? JsonNode.Parse(tokens.GetRawText()) : null,
        };
        using var document = JsonDocument.Parse(single.ToJsonString());
        await ProcessNotificationsAsync(document.RootElement, countReceived: false, CancellationToken.None); // counted when it first arrived
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
        if (!clientState.Verify(Text(item, "clientState")))
            return "client-state";
        if (known.Initialized && !known.Contains(subscriptionId))
            return "unknown-subscription";
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
