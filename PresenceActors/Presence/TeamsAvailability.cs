using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PresenceActors.Presence;

/// <summary>
/// A Teams presence availability as Graph reports it. Documented values are parsed case-insensitively
/// into their canonical spelling; anything else is kept verbatim so that a new Graph value is never lost.
/// </summary>
[JsonConverter(typeof(TeamsAvailabilityJsonConverter))]
public sealed record TeamsAvailability
{
    public static readonly TeamsAvailability Available = new("Available");
    public static readonly TeamsAvailability AvailableIdle = new("AvailableIdle");
    public static readonly TeamsAvailability Away = new("Away");
    public static readonly TeamsAvailability BeRightBack = new("BeRightBack");
    public static readonly TeamsAvailability Busy = new("Busy");
    public static readonly TeamsAvailability BusyIdle = new("BusyIdle");
    public static readonly TeamsAvailability DoNotDisturb = new("DoNotDisturb");
    public static readonly TeamsAvailability Offline = new("Offline");
    public static readonly TeamsAvailability PresenceUnknown = new("PresenceUnknown");

    private static readonly FrozenDictionary<string, TeamsAvailability> Known =
        new[] { Available, AvailableIdle, Away, BeRightBack, Busy, BusyIdle, DoNotDisturb, Offline, PresenceUnknown }
            .ToFrozenDictionary(a => a.Value, StringComparer.OrdinalIgnoreCase);

    private TeamsAvailability(string value) => Value = value;

    public string Value { get; }

    public bool IsDocumented => Known.ContainsKey(Value);

    public static IReadOnlyCollection<TeamsAvailability> Documented => Known.Values;

    public static TeamsAvailability Parse(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new FormatException("availability must not be empty");
        return Known.TryGetValue(value.Trim(), out var known) ? known : new TeamsAvailability(value.Trim());
    }

    public override string ToString() => Value;
}

internal sealed class TeamsAvailabilityJsonConverter : JsonConverter<TeamsAvailability>
{
    public override TeamsAvailability Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        TeamsAvailability.Parse(reader.GetString() ?? throw new JsonException("availability must be a string"));

    public override void Write(Utf8JsonWriter writer, TeamsAvailability value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
