using System.Text.Json;
using PresenceActors.Subscriptions;
using static PresenceActors.Webhooks.NotificationJson;

namespace PresenceActors.Webhooks;

/// <summary>Whether a notification item comes from one of our subscriptions: checked when admitted, and again when processed.</summary>
public sealed class ItemAuthenticity(ClientStateSigner clientState, KnownSubscriptionsCache known)
{
    /// <summary>Drop reason of an item whose subscription the pool has not published (yet): it waits, it is not dropped.</summary>
    public const string UnknownSubscription = "unknown-subscription";

    /// <summary>
    /// Null when the item is well formed and signed by this service for the account whose subscription it names; else
    /// the reason to drop it. An id not yet published by the pool passes: its subscription may have been made a moment
    /// ago; <see cref="IsKnown"/> tells the processing whether to wait for it.
    /// </summary>
    public string? Check(JsonElement item, out string? subscriptionId)
    {
        subscriptionId = Text(item, "subscriptionId");
        if (item.ValueKind != JsonValueKind.Object || string.IsNullOrEmpty(subscriptionId))
            return "malformed-item";
        if (!clientState.Verify(Text(item, "clientState"), out var accountTag))
            return "client-state";
        // A genuine clientState of one technical account does not vouch for another account's subscription.
        if (known.AccountTagOf(subscriptionId) is { } expected && expected != accountTag)
            return "client-state";
        return null;
    }

    /// <summary>Whether the pool has published the subscription (before its first publication every id counts as known).</summary>
    public bool IsKnown(string subscriptionId) => !known.Initialized || known.Contains(subscriptionId);

    /// <summary>Completes when the id is known or <paramref name="timeout"/> passed.</summary>
    public Task WhenKnownAsync(string subscriptionId, TimeSpan timeout) => known.WaitForAsync(subscriptionId, timeout, CancellationToken.None);
}
