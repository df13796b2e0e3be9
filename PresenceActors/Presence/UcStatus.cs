using System.Text.Json;
using System.Text.Json.Serialization;

namespace PresenceActors.Presence;

/// <summary>
/// An OpenScape UC presence status. The set is open: whatever the UC back end reports is kept verbatim
/// and restored verbatim; only comparisons ignore case, because UC installations differ in spelling.
/// </summary>
[JsonConverter(typeof(UcStatusJsonConverter))]
public sealed record UcStatus
{
    public static readonly UcStatus Available = new("Available");
    public static readonly UcStatus Busy = new("Busy");

    private UcStatus(string value) => Value = value;

    public string Value { get; }

    public static UcStatus Of(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new FormatException("status must not be empty");
        return new UcStatus(value);
    }

    /// <summary>Same status for the rules (case-insensitive), while <see cref="Value"/> stays verbatim.</summary>
    public bool Matches(UcStatus? other) =>
        other is not null && string.Equals(Value, other.Value, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Value;
}

internal sealed class UcStatusJsonConverter : JsonConverter<UcStatus>
{
    public override UcStatus Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        UcStatus.Of(reader.GetString() ?? throw new JsonException("status must be a string"));

    public override void Write(Utf8JsonWriter writer, UcStatus value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
