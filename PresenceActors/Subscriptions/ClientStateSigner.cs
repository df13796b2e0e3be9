using System.Security.Cryptography;
using System.Text;

namespace PresenceActors.Subscriptions;

/// <summary>
/// The clientState each subscription carries: a nonce and an HMAC-SHA256 over the account and the nonce with a
/// cluster-wide key, so any node verifies it in constant time without a database (docs/operator-guide.md, "Cluster-wide secrets").
/// Format: v1.{account-tag}.{nonce}.{mac}, all base64url, well under Graph's 128-character limit.
/// </summary>
public sealed class ClientStateSigner
{
    private readonly byte[] _key;

    public ClientStateSigner(byte[] key)
    {
        if (key.Length < 32)
            throw new ArgumentException("The clientState key must be at least 32 bytes (256 bits).", nameof(key));
        _key = key;
    }

    public string Create(string account)
    {
        var tag = AccountTag(account);
        var nonce = Base64Url(RandomNumberGenerator.GetBytes(12));
        return $"v1.{tag}.{nonce}.{Base64Url(Mac(tag, nonce))}";
    }

    /// <summary>True when the clientState was issued with this key (compared in constant time).</summary>
    public bool Verify(string? clientState) => Verify(clientState, out _);

    /// <summary>
    /// True when the clientState was issued with this key; <paramref name="accountTag"/> names the technical account it
    /// was issued for (see <see cref="TagOf"/>), so that it can be held to that account's subscription.
    /// </summary>
    public bool Verify(string? clientState, out string? accountTag)
    {
        accountTag = null;
        if (clientState is null || clientState.Length > 128)
            return false;
        var parts = clientState.Split('.');
        if (parts.Length != 4 || parts[0] != "v1")
            return false;
        Span<byte> presented = stackalloc byte[32];
        if (!TryFromBase64Url(parts[3], presented, out var written) || written != 32)
            return false;
        if (!CryptographicOperations.FixedTimeEquals(presented, Mac(parts[1], parts[2])))
            return false;
        accountTag = parts[1];
        return true;
    }

    /// <summary>The account's tag inside its clientStates: a short hash of the technical account's name.</summary>
    public static string TagOf(string account) => AccountTag(account);

    private byte[] Mac(string tag, string nonce) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{tag}.{nonce}"));

    private static string AccountTag(string account) =>
        Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(account.ToLowerInvariant()))[..9]);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryFromBase64Url(string text, Span<byte> into, out int written)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        return Convert.TryFromBase64String(s, into, out written);
    }
}
