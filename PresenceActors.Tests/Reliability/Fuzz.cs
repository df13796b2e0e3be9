using System.Text;
using System.Text.Json.Nodes;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Seeded input generators for the fuzz tests: mutations of a valid input (truncation, flipped and inserted bytes,
/// invalid UTF-8, wrong types, deep nesting, huge arrays and strings) and inputs made from scratch.
/// </summary>
internal sealed class Fuzz(int seed)
{
    private static readonly string[] Oddities =
    [
        "", " ", "null", "true", "0", "-1", "1e400", "NaN", "\"\"", "[]", "{}", "\u0000", "\uFEFF", "%00", "../../etc/passwd", "<script>alert(1)</script>",
        "' OR 1=1 --", "\u202E", "😀", "\\", "\\u12", "${jndi:ldap://127.0.0.1/x}", new string('a', 5000), "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    ];

    public Random Random { get; } = new(seed);

    public T Pick<T>(IReadOnlyList<T> items) => items[Random.Next(items.Count)];

    public string OddString() => Random.Next(4) == 0 ? RandomText(Random.Next(1, 64)) : Pick(Oddities);

    public string RandomText(int length)
    {
        var builder = new StringBuilder(length);
        for (var i = 0; i < length; i++)
            builder.Append((char)Random.Next(1, 0x2FFF));
        return builder.ToString();
    }

    /// <summary>A mutation of <paramref name="valid"/>, or something made from scratch; never the valid input itself.</summary>
    public byte[] Mutate(byte[] valid)
    {
        switch (Random.Next(10))
        {
            case 0: // truncated
                return valid[..Random.Next(0, Math.Max(1, valid.Length - 1))];
            case 1: // flipped bytes
            {
                var copy = (byte[])valid.Clone();
                for (var i = 0; i < 1 + Random.Next(8); i++)
                    copy[Random.Next(copy.Length)] ^= (byte)(1 << Random.Next(8));
                return copy;
            }
            case 2: // invalid UTF-8 inserted
            {
                var at = Random.Next(valid.Length);
                byte[] bad = Pick<byte[]>([[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF]]);
                return [.. valid[..at], .. bad, .. valid[at..]];
            }
            case 3: // deep nesting
            {
                var depth = Pick([17, 64, 1000, 20_000]);
                return Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth));
            }
            case 4: // random bytes
            {
                var bytes = new byte[Random.Next(1, 512)];
                Random.NextBytes(bytes);
                return bytes;
            }
            case 5: // a JSON scalar, array or wrong shape at the top
                return Encoding.UTF8.GetBytes(Pick(["null", "[]", "42", "\"value\"", "{\"value\":{}}", "{\"value\":[1,2,3]}", "{\"value\":[null]}", "{\"value\":\"x\"}", "{}"]));
            default: // structural: one value somewhere replaced by a wrong type
                return ReplaceValue(valid);
        }
    }

    private byte[] ReplaceValue(byte[] valid)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(valid);
        }
        catch (System.Text.Json.JsonException)
        {
            return valid[..^1];
        }

        var containers = new List<JsonNode>();
        Collect(root, containers);
        if (containers.Count == 0)
            return Encoding.UTF8.GetBytes("{\"value\":0}");
        var target = Pick(containers);
        JsonNode? replacement = Random.Next(9) switch
        {
            0 => null,
            1 => JsonValue.Create(Random.Next()),
            2 => JsonValue.Create(Random.NextDouble() * 1e300),
            3 => JsonValue.Create(Random.Next(2) == 0),
            4 => new JsonArray(Enumerable.Range(0, Random.Next(0, 3)).Select(_ => (JsonNode?)JsonValue.Create(OddString())).ToArray()),
            5 => new JsonObject { [OddString()] = OddString() },
            6 => JsonValue.Create(new string('x', Random.Next(1, 200_000))),
            7 => new JsonArray(Enumerable.Range(0, Random.Next(1000, 20_000)).Select(_ => (JsonNode?)new JsonObject()).ToArray()),
            _ => JsonValue.Create(OddString()),
        };
        if (target is JsonObject obj && obj.Count > 0)
        {
            var key = obj.ElementAt(Random.Next(obj.Count)).Key;
            obj[key] = replacement;
        }
        else if (target is JsonArray array && array.Count > 0)
        {
            array[Random.Next(array.Count)] = replacement;
        }

        return Encoding.UTF8.GetBytes(root!.ToJsonString());
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        switch (node)
        {
            case JsonObject obj:
                into.Add(obj);
                foreach (var (_, child) in obj)
                    Collect(child, into);
                break;
            case JsonArray array:
                into.Add(array);
                foreach (var child in array)
                    Collect(child, into);
                break;
        }
    }
}
