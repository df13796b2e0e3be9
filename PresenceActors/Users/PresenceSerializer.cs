using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;

namespace PresenceActors.Users;

/// <summary>
/// JSON with stable string manifests for everything the user feature journals, snapshots or sends across nodes.
/// Journaled events are a public contract: a manifest never changes meaning, so renaming a class breaks nothing;
/// renaming a property does, and the checked-in sample journal test catches it.
/// </summary>
public sealed class PresenceSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4101;

    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

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
        // snapshot
        ("state-1", typeof(UserPresenceState)),
        // protocol between nodes
        ("cmd-link", typeof(UserPresenceCommands.LinkUser)),
        ("cmd-unlink", typeof(UserPresenceCommands.UnlinkUser)),
        ("cmd-teams", typeof(UserPresenceCommands.ObserveTeamsPresence)),
        ("cmd-uc", typeof(UserPresenceCommands.ReportUcPresence)),
        ("q-get", typeof(UserPresenceQueries.GetUserPresence)),
        ("q-view", typeof(UserPresenceQueries.UserPresenceView)),
    ];

    private static readonly FrozenDictionary<Type, string> ByType = Manifests.ToFrozenDictionary(m => m.Type, m => m.Manifest);
    private static readonly FrozenDictionary<string, Type> ByManifest = Manifests.ToFrozenDictionary(m => m.Manifest, m => m.Type);

    /// <summary>The types this serializer must be bound to.</summary>
    public static IReadOnlyList<Type> BoundTypes { get; } =
        [typeof(PresenceInput), typeof(UserPresenceState), typeof(IUserPresenceMessage)];

    public static IReadOnlyCollection<Type> SerializableTypes => ByType.Keys;

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        ByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType().FullName} has no manifest in {nameof(PresenceSerializer)}; add one before persisting or sending it.");

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        ByManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"Manifest '{manifest}' decoded to null.")
            : throw new SerializationException($"Unknown presence manifest '{manifest}': written by a newer version?");
}
