using Akka.Actor;
using PresenceActors.Serialization;

namespace PresenceActors.Registration;

/// <summary>The user registry's events, snapshot and protocol, with stable manifests.</summary>
public sealed class RegistrationSerializer(ExtendedActorSystem system) : ManifestJsonSerializer(system, Manifests)
{
    public const int Id = 4103;

    private static readonly (string Manifest, Type Type)[] Manifests =
    [
        ("mapping", typeof(UserMapping)),
        ("registered", typeof(UserRegistered)),
        ("unregistered", typeof(UserUnregistered)),
        ("registry-snapshot-1", typeof(RegistrySnapshot)),
        ("pending-link", typeof(PendingLink)),
        ("links-confirmed", typeof(LinksConfirmed)),
        ("cmd-register", typeof(UserRegistryCommands.Register)),
        ("register-result", typeof(UserRegistryCommands.RegisterResult)),
        ("cmd-unregister", typeof(UserRegistryCommands.Unregister)),
        ("cmd-lookup", typeof(UserRegistryCommands.Lookup)),
        ("lookup-result", typeof(UserRegistryCommands.LookupResult)),
        ("cmd-list", typeof(UserRegistryCommands.ListMappings)),
        ("mapping-list", typeof(UserRegistryCommands.MappingList)),
        ("q-unconfirmed-links", typeof(UserRegistryCommands.GetUnconfirmedLinks)),
        ("opted-out", typeof(UserOptedOut)),
        ("opted-in", typeof(UserOptedIn)),
        ("cmd-set-synchronised", typeof(UserRegistryCommands.SetSynchronised)),
        ("q-synchronised", typeof(UserRegistryCommands.GetSynchronised)),
        ("sync-setting", typeof(UserRegistryCommands.SyncSetting)),
        ("q-opted-out", typeof(UserRegistryCommands.ListOptedOut)),
        ("opted-out-users", typeof(UserRegistryCommands.OptedOutUsers)),
        ("unconfirmed-links", typeof(UserRegistryCommands.UnconfirmedLinks)),
        ("registered-many", typeof(UsersRegistered)),
        ("unregistered-many", typeof(UsersUnregistered)),
        ("cmd-register-many", typeof(UserRegistryCommands.RegisterMany)),
        ("registered-many-result", typeof(UserRegistryCommands.RegisteredMany)),
        ("cmd-unregister-many", typeof(UserRegistryCommands.UnregisterMany)),
        ("unregistered-many-result", typeof(UserRegistryCommands.UnregisteredMany)),
    ];

    public static IReadOnlyList<Type> BoundTypes { get; } = [typeof(IUserRegistryMessage)];

    public static IReadOnlyCollection<Type> Types => Manifests.Select(m => m.Type).ToList();

    public override int Identifier => Id;
}
