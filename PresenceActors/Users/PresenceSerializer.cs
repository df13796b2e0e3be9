using Akka.Actor;
using PresenceActors.Serialization;

namespace PresenceActors.Users;

/// <summary>Everything the user feature journals, snapshots or sends across nodes, with stable manifests.</summary>
public sealed class PresenceSerializer(ExtendedActorSystem system) : ManifestJsonSerializer(system, Manifests)
{
    public const int Id = 4101;


    private static readonly (string Manifest, Type Type)[] Manifests =
    [
        // journaled inputs
        ("link", typeof(UserLinked)),
        ("unlink", typeof(UserUnlinked)),
        ("teams", typeof(TeamsPresenceObserved)),
        ("uc", typeof(UcPresenceReported)),
        ("timer", typeof(TimerFired)),
        ("resumed", typeof(Resumed)),
        ("uc-ack", typeof(UcUpdateAcknowledged)),
        ("uc-failed", typeof(UcUpdateFailed)),
        ("session-set", typeof(TeamsSessionSet)),
        ("session-set-failed", typeof(TeamsSessionSetFailed)),
        ("session-cleared", typeof(TeamsSessionCleared)),
        ("session-clear-failed", typeof(TeamsSessionClearFailed)),
        ("rules-changed", typeof(PresenceRulesChanged)),
        ("session-set-withdrawn", typeof(TeamsSessionSetWithdrawn)),
        // snapshot
        ("state-1", typeof(UserPresenceState)),
        // protocol between nodes
        ("cmd-link", typeof(UserPresenceCommands.LinkUser)),
        ("cmd-unlink", typeof(UserPresenceCommands.UnlinkUser)),
        ("link-state", typeof(UserPresenceCommands.LinkState)),
        ("cmd-teams", typeof(UserPresenceCommands.ObserveTeamsPresence)),
        ("cmd-uc", typeof(UserPresenceCommands.ReportUcPresence)),
        ("cmd-rules", typeof(UserPresenceCommands.ApplyRules)),
        ("taken", typeof(UserPresenceCommands.Taken)),
        ("q-get", typeof(UserPresenceQueries.GetUserPresence)),
        ("q-view", typeof(UserPresenceQueries.UserPresenceView)),
        ("q-snapshot", typeof(UserPresenceQueries.GetSnapshot)),
        ("snapshot", typeof(UserPresenceSnapshot)),
    ];

    /// <summary>The types this serializer must be bound to.</summary>
    public static IReadOnlyList<Type> BoundTypes { get; } =
        [typeof(PresenceInput), typeof(UserPresenceState), typeof(IUserPresenceMessage)];

    public static new IReadOnlyCollection<Type> SerializableTypes => Manifests.Select(m => m.Type).ToList();

    public override int Identifier => Id;
}
