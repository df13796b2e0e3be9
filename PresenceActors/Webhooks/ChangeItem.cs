using System.Text.Json;
using static PresenceActors.Webhooks.NotificationJson;

namespace PresenceActors.Webhooks;

/// <summary>
/// One change notification as Graph sends it (docs/graph-api.md, section 4), read once for the steps of
/// <see cref="NotificationHandler"/>; the raw item is kept for the ingress log should it have to wait.
/// </summary>
/// <param name="Content">The encrypted presence of a rich notification (docs/graph-api.md, section 5); null for a basic one.</param>
internal sealed record ChangeItem(JsonElement Raw, string SubscriptionId, string UserId, EncryptedContent? Content)
{
    /// <summary>The item of an authentic envelope, or null when it names no user.</summary>
    public static ChangeItem? Read(JsonElement raw, string subscriptionId)
    {
        var userId = Text(Property(raw, "resourceData"), "id");
        if (string.IsNullOrEmpty(userId))
            return null;
        var content = Property(raw, "encryptedContent") is { ValueKind: JsonValueKind.Object } encrypted
            ? new EncryptedContent(Text(encrypted, "data") ?? "", Text(encrypted, "dataSignature") ?? "", Text(encrypted, "dataKey") ?? "",
                Text(encrypted, "encryptionCertificateId"), Text(encrypted, "encryptionCertificateThumbprint"))
            : null;
        return new ChangeItem(raw, subscriptionId, userId, content);
    }
}

/// <summary>Why a step stopped an item: dropped and counted (proven worthless), or kept in the entry to be tried again.</summary>
/// <param name="SubscriptionId">The item's subscription: named in the drop log, and awaited when the item waits for it to be published.</param>
internal sealed record ItemStop(string Reason, string? SubscriptionId, bool Waits)
{
    public static ItemStop Drop(string reason, string? subscriptionId) => new(reason, subscriptionId, false);

    public static ItemStop Wait(string reason, string? subscriptionId = null) => new(reason, subscriptionId, true);
}
