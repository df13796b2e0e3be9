using Akka.Actor;
using PresenceActors.Serialization;

namespace PresenceActors.Mapping;

/// <summary>The mapping's events, snapshot and protocol, with stable manifests.</summary>
public sealed class MappingSerializer(ExtendedActorSystem system) : ManifestJsonSerializer(system, Manifests)
{
    public const int Id = 4107;

    private static readonly (string Manifest, Type Type)[] Manifests =
    [
        ("mapping-saved", typeof(MappingSaved)),
        ("mapping-snapshot-1", typeof(MappingSnapshot)),
        ("q-mapping", typeof(MappingCommands.GetMapping)),
        ("mapping", typeof(MappingCommands.CurrentMapping)),
        ("cmd-save", typeof(MappingCommands.SaveMapping)),
        ("save-result", typeof(MappingCommands.SaveResult)),
        ("q-history", typeof(MappingCommands.GetMappingHistory)),
        ("history", typeof(MappingCommands.MappingHistory)),
        ("history-edit", typeof(MappingCommands.MappingEditSummary)),
        ("q-preview", typeof(MappingCommands.PreviewMapping)),
        ("preview", typeof(MappingCommands.PreviewResult)),
        ("preview-change", typeof(MappingCommands.PreviewChange)),
    ];

    public static IReadOnlyList<Type> BoundTypes { get; } = [typeof(IMappingMessage)];

    public static IReadOnlyCollection<Type> Types => Manifests.Select(m => m.Type).ToList();

    public override int Identifier => Id;
}
