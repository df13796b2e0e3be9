using Akka.Actor;
using PresenceActors.Serialization;

namespace PresenceActors.Subscriptions;

/// <summary>The subscription pool's events, snapshot and protocol, with stable manifests.</summary>
public sealed class SubscriptionSerializer(ExtendedActorSystem system) : ManifestJsonSerializer(system, Manifests)
{
    public const int Id = 4102;

    private static readonly (string Manifest, Type Type)[] Manifests =
    [
        ("account-added", typeof(AccountAdded)),
        ("account-draining", typeof(AccountDraining)),
        ("account-removed", typeof(AccountRemoved)),
        ("account-health", typeof(AccountHealthChanged)),
        ("users-watched", typeof(UsersWatched)),
        ("users-unwatched", typeof(UsersUnwatched)),
        ("users-assigned", typeof(UsersAssigned)),
        ("subscription-established", typeof(SubscriptionEstablished)),
        ("subscription-renewed", typeof(SubscriptionRenewed)),
        ("subscription-dropped", typeof(SubscriptionDropped)),
        ("pool-snapshot-1", typeof(PoolSnapshot)),
        ("cmd-watch", typeof(SubscriptionPoolCommands.WatchUsers)),
        ("cmd-unwatch", typeof(SubscriptionPoolCommands.UnwatchUsers)),
        ("cmd-add-account", typeof(SubscriptionPoolCommands.AddAccount)),
        ("cmd-remove-account", typeof(SubscriptionPoolCommands.RemoveAccount)),
        ("cmd-reauthorize", typeof(SubscriptionPoolCommands.ReauthorizationRequired)),
        ("cmd-resync", typeof(SubscriptionPoolCommands.Resync)),
        ("cmd-encryption-rotated", typeof(SubscriptionPoolCommands.EncryptionRotated)),
        ("q-status", typeof(SubscriptionPoolCommands.GetPoolStatus)),
        ("q-assignment", typeof(SubscriptionPoolCommands.GetAssignment)),
        ("assignment", typeof(SubscriptionPoolCommands.Assignment)),
        ("result", typeof(SubscriptionPoolCommands.CommandResult)),
        ("status", typeof(PoolStatus)),
        ("known-subscriptions", typeof(KnownSubscriptions)),
    ];

    public static IReadOnlyList<Type> BoundTypes { get; } = [typeof(PoolEvent), typeof(ISubscriptionPoolMessage)];

    public static IReadOnlyCollection<Type> Types => Manifests.Select(m => m.Type).ToList();

    public override int Identifier => Id;
}
