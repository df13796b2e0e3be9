using System.Collections.Immutable;

namespace PresenceActors.Subscriptions;

/// <summary>Registry key of the subscription pool singleton (its proxy on every node).</summary>
public sealed class SubscriptionPoolKey;

/// <summary>Marker binding the pool's protocol, events and snapshot to <see cref="SubscriptionSerializer"/>.</summary>
public interface ISubscriptionPoolMessage;

public static class SubscriptionPoolCommands
{
    public sealed record WatchUsers(ImmutableArray<string> UserIds) : ISubscriptionPoolMessage;

    public sealed record UnwatchUsers(ImmutableArray<string> UserIds) : ISubscriptionPoolMessage;

    /// <summary>Adds a technical account by username; its password comes from every node's configuration.</summary>
    public sealed record AddAccount(string Account) : ISubscriptionPoolMessage;

    /// <summary>Drains the account: its users move to others, then its subscription is deleted.</summary>
    public sealed record RemoveAccount(string Account) : ISubscriptionPoolMessage;

    /// <summary>Graph's lifecycle event for a subscription: renew (which reauthorizes) now. Answered with <see cref="CommandResult"/>.</summary>
    public sealed record ReauthorizationRequired(string SubscriptionId) : ISubscriptionPoolMessage;

    /// <summary>
    /// The cluster's encryption certificate was rotated (docs/operator-guide.md, "Rotating the encryption certificate"):
    /// load it and renew every subscription with it now. Answered with <see cref="CommandResult"/>.
    /// </summary>
    public sealed record EncryptionRotated(string CertificateId) : ISubscriptionPoolMessage;

    /// <summary>Reads the presence of these users (all watched users when empty) and checks every subscription now.</summary>
    /// <param name="Always">A full read even right after another (a changed mapping must reach every user).</param>
    public sealed record Resync(ImmutableArray<string> UserIds, bool Always = false) : ISubscriptionPoolMessage;

    /// <summary>Answered with <see cref="Assignment"/>: which technical account watches the user.</summary>
    public sealed record GetAssignment(string UserId) : ISubscriptionPoolMessage;

    public sealed record Assignment(string UserId, string? Account) : ISubscriptionPoolMessage;

    /// <summary>Answered with <see cref="PoolStatus"/>.</summary>
    public sealed record GetPoolStatus : ISubscriptionPoolMessage;

    /// <summary>Answered with <see cref="CommandResult"/>.</summary>
    public sealed record CommandResult(bool Ok, string Message) : ISubscriptionPoolMessage;
}

public sealed record AccountStatus(
    string Account,
    int Users,
    int Capacity,
    string? SubscriptionId,
    DateTimeOffset? ExpiresAt,
    int SubscribedUsers,
    bool Healthy,
    bool Draining,
    bool HasCredentials,
    string? Problem,
    DateTimeOffset? LastRenewedAt = null);

/// <summary>The pool at a glance, for `presence pool`, the status page and tests.</summary>
public sealed record PoolStatus(ImmutableArray<AccountStatus> Accounts, int WatchedUsers, int UnwatchedUsers, ImmutableArray<string> UnwatchedSample)
    : ISubscriptionPoolMessage;

/// <summary>
/// Published on every change: the subscription ids the webhook should accept on any node, and for each the tag of the
/// technical account whose clientState it carries (absent from a node of an older version: then any valid clientState counts).
/// </summary>
public sealed record KnownSubscriptions(ImmutableHashSet<string> SubscriptionIds, ImmutableDictionary<string, string>? AccountTags = null) : ISubscriptionPoolMessage
{
    public const string Topic = "presence-subscriptions";

    /// <summary>How often the pool publishes the ids again without a change.</summary>
    public static readonly TimeSpan RepublishEvery = TimeSpan.FromSeconds(30);
}
