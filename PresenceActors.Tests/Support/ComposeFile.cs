using System.Security.Cryptography;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace PresenceActors.Tests.Support;

/// <summary>The shipped docker-compose.yml, read as compose reads it (anchors merged, ${…} variables filled).</summary>
internal static class ComposeFile
{
    public static Dictionary<object, object> Read()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docker-compose.yml"));
        return new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(new StringReader(text))));
    }

    public static Dictionary<object, object> Map(object node) => (Dictionary<object, object>)node;

    /// <summary>
    /// The secrets an operator puts in the .env file beside the compose file: made once, the same for every node, as the
    /// compose file's own messages ask.
    /// </summary>
    public static Dictionary<string, string> OperatorVariables() => new()
    {
        ["PRESENCE_CLIENT_STATE_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        ["PRESENCE_API_KEY"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
        ["PRESENCE_ADMIN_TOKEN"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
    };

    /// <summary>
    /// A service's environment as compose hands it to the container (names as written, e.g. presence__api__key), its
    /// ${NAME:-default} and ${NAME:?message} filled from <paramref name="variables"/>; a required variable missing is an error naming it.
    /// </summary>
    public static Dictionary<string, string> Environment(string service, IReadOnlyDictionary<string, string> variables) =>
        Map(Map(Map(Read()["services"])[service])["environment"]).ToDictionary(e => (string)e.Key, e => Fill((string)e.Value, variables));

    private static string Fill(string value, IReadOnlyDictionary<string, string> variables) =>
        Regex.Replace(value, @"\$\{(?<name>[A-Z_]+)(:-(?<default>[^}]*)|:\?[^}]*)?\}", m =>
            variables.TryGetValue(m.Groups["name"].Value, out var set) ? set
            : m.Groups["default"].Success ? m.Groups["default"].Value
            : throw new InvalidOperationException($"docker-compose.yml needs ${{{m.Groups["name"].Value}}}: {m.Value}"));
}
