using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PresenceActors.Presence;

/// <summary>
/// A Teams presence activity as Graph reports it. Documented values are parsed case-insensitively
/// into their canonical spelling; anything else is kept verbatim.
/// </summary>
[JsonConverter(typeof(TeamsActivityJsonConverter))]
public sealed record TeamsActivity
{
    public static readonly TeamsActivity Available = new("Available");
    public static readonly TeamsActivity Away = new("Away");
    public static readonly TeamsActivity BeRightBack = new("BeRightBack");
    public static readonly TeamsActivity Busy = new("Busy");
    public static readonly TeamsActivity DoNotDisturb = new("DoNotDisturb");
    public static readonly TeamsActivity InACall = new("InACall");
    public static readonly TeamsActivity InAConferenceCall = new("InAConferenceCall");
    public static readonly TeamsActivity Inactive = new("Inactive");
    public static readonly TeamsActivity InAMeeting = new("InAMeeting");
    public static readonly TeamsActivity Offline = new("Offline");
    public static readonly TeamsActivity OffWork = new("OffWork");
    public static readonly TeamsActivity OutOfOffice = new("OutOfOffice");
    public static readonly TeamsActivity PresenceUnknown = new("PresenceUnknown");
    public static readonly TeamsActivity Presenting = new("Presenting");
    public static readonly TeamsActivity UrgentInterruptionsOnly = new("UrgentInterruptionsOnly");

    private static readonly FrozenDictionary<string, TeamsActivity> Known =
        new[]
            {
                Available, Away, BeRightBack, Busy, DoNotDisturb, InACall, InAConferenceCall, Inactive, InAMeeting,
                Offline, OffWork, OutOfOffice, PresenceUnknown, Presenting, UrgentInterruptionsOnly,
            }
            .ToFrozenDictionary(a => a.Value, StringComparer.OrdinalIgnoreCase);

    private TeamsActivity(string value) => Value = value;

    public string Value { get; }

    public bool IsDocumented => Known.ContainsKey(Value);

    public static IReadOnlyCollection<TeamsActivity> Documented => Known.Values;

    public static TeamsActivity Parse(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new FormatException("activity must not be empty");
        return Known.TryGetValue(value.Trim(), out var known) ? known : new TeamsActivity(value.Trim());
    }

    public override string ToString() => Value;
}

internal sealed class TeamsActivityJsonConverter : JsonConverter<TeamsActivity>
{
    public override TeamsActivity Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        TeamsActivity.Parse(reader.GetString() ?? throw new JsonException("activity must be a string"));

    public override void Write(Utf8JsonWriter writer, TeamsActivity value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
