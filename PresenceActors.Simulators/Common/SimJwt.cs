using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PresenceActors.Simulators.Common;

/// <summary>RS256 JSON Web Tokens, written by hand so that the simulator shares no token code with the product.</summary>
public sealed class SimJwt(RSA key, string keyId)
{
    public string KeyId { get; } = keyId;

    public string Sign(JsonObject claims)
    {
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "RS256", ["kid"] = KeyId, ["x5t"] = KeyId };
        var signingInput = $"{Base64Url(header.ToJsonString())}.{Base64Url(claims.ToJsonString())}";
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{signingInput}.{Base64Url(signature)}";
    }

    /// <summary>An unsigned token (alg none), as MSAL accepts for an id_token it only reads.</summary>
    public static string Unsigned(JsonObject claims) =>
        $"{Base64Url("{\"typ\":\"JWT\",\"alg\":\"none\"}")}.{Base64Url(claims.ToJsonString())}.";

    /// <summary>The claims of a token this key signed, or null when the signature does not verify.</summary>
    public JsonObject? Verify(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
            return null;
        try
        {
            var signature = FromBase64Url(parts[2]);
            if (!key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                return null;
            return JsonNode.Parse(FromBase64Url(parts[1])) as JsonObject;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The JWKS entry of the public key.</summary>
    public JsonObject Jwk()
    {
        var p = key.ExportParameters(false);
        return new JsonObject
        {
            ["kty"] = "RSA", ["use"] = "sig", ["kid"] = KeyId, ["x5t"] = KeyId, ["alg"] = "RS256",
            ["n"] = Base64Url(p.Modulus!), ["e"] = Base64Url(p.Exponent!),
        };
    }

    public static string Base64Url(string text) => Base64Url(Encoding.UTF8.GetBytes(text));

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
