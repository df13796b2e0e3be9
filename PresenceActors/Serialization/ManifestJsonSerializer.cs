using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace PresenceActors.Serialization;

/// <summary>
/// JSON with an explicit map of stable string manifests. What is journaled is a public contract: a manifest never changes
/// meaning, so renaming a class breaks nothing; renaming a property does, and the checked-in sample journals catch it.
/// </summary>
public abstract class ManifestJsonSerializer : SerializerWithStringManifest
{
    public static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly FrozenDictionary<Type, string> _byType;
    private readonly FrozenDictionary<string, Type> _byManifest;

    protected ManifestJsonSerializer(ExtendedActorSystem system, IReadOnlyList<(string Manifest, Type Type)> manifests) : base(system)
    {
        _byType = manifests.ToFrozenDictionary(m => m.Type, m => m.Manifest);
        _byManifest = manifests.ToFrozenDictionary(m => m.Manifest, m => m.Type);
    }

    public IReadOnlyCollection<Type> SerializableTypes => _byType.Keys;

    public override string Manifest(object o) =>
        _byType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType().FullName} has no manifest in {GetType().Name}; add one before persisting or sending it.");

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        _byManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"Manifest '{manifest}' decoded to null.")
            : throw new SerializationException($"Unknown manifest '{manifest}' for {GetType().Name}: written by a newer version?");
}
