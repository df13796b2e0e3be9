using System.Text.Json;

namespace PresenceActors.Webhooks;

/// <summary>Reading Graph's notification collections without trusting their shape.</summary>
internal static class NotificationJson
{
    /// <summary>The items of a changeNotificationCollection; false when it is not one.</summary>
    public static bool TryItems(JsonElement root, out List<JsonElement> items)
    {
        items = [];
        if (root.ValueKind != JsonValueKind.Object || Property(root, "value") is not { ValueKind: JsonValueKind.Array } value)
            return false;
        items = [.. value.EnumerateArray()];
        return true;
    }

    /// <summary>A collection of these items with the request's validationTokens, as the ingress log keeps it.</summary>
    public static string Collection(IEnumerable<JsonElement> items, JsonElement root)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("value");
            foreach (var item in items)
                item.WriteTo(writer);
            writer.WriteEndArray();
            if (Property(root, "validationTokens") is { } tokens)
            {
                writer.WritePropertyName("validationTokens");
                tokens.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public static JsonElement? Property(JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(name, out var value) ? value : null;

    public static string? Text(JsonElement? element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
}
