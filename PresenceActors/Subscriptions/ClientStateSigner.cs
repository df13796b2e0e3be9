using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace PresenceActors.Subscriptions;

/// <summary>
/// The clientState each subscription carries: the technical account's tag, a nonce and an HMAC-SHA256 over them with a
/// cluster-wide key, so any node verifies it in constant time without a database (docs/operator-guide.md, "Cluster-wide
/// secrets"). Format: v2.{key-id}.{account-tag}.{nonce}.{mac}, all base64url, well under Graph's 128-character limit.
/// The key id names the key that signed it: after a rotation (presence.clientState.key replaced, the old one listed in
/// presence.clientState.previousKeys) the old clientStates verify only while their key is listed, and the pool re-creates
/// every subscription made with a replaced key; a key announced in presence.clientState.nextKeys is accepted before any
/// node signs with it. The first version's v1.{account-tag}.{nonce}.{mac} (no key id) still
/// verifies against the keys held.
/// </summary>
public sealed class ClientStateSigner
{
    private readonly Key _current;
    private readonly IReadOnlyList<Key> _keys;

    private sealed record Key(byte[] Secret, string Id);

    private readonly IReadOnlySet<string> _replaced;

    /// <param name="key">presence.clientState.key: signs new clientStates.</param>
    /// <param name="previousKeys">presence.clientState.previousKeys: replaced keys, still accepted; subscriptions signed with one are re-created.</param>
    /// <param name="nextKeys">presence.clientState.nextKeys: keys about to become current, already accepted.</param>
    public ClientStateSigner(byte[] key, IReadOnlyList<byte[]>? previousKeys = null, IReadOnlyList<byte[]>? nextKeys = null)
    {
        _current = Make(key, nameof(key));
        var previous = (previousKeys ?? []).Select(k => Make(k, nameof(previousKeys))).Where(k => k.Id != _current.Id).ToList();
        var next = (nextKeys ?? []).Select(k => Make(k, nameof(nextKeys))).Where(k => k.Id != _current.Id).ToList();
        _keys = [_current, .. previous, .. next];
        _replaced = previous.Select(k => k.Id).ToHashSet();
    }

    /// <summary>Whether <paramref name="keyId"/> names a replaced key (its subscriptions are re-created with the current one).</summary>
    public bool IsReplaced(string keyId) => _replaced.Contains(keyId);

    /// <summary>The id of the key new clientStates are signed with.</summary>
    public string CurrentKeyId => _current.Id;

    /// <summary>Whether replaced keys are still held (a rotation of presence.clientState.key is under way).</summary>
    public bool Rotating => _replaced.Count > 0;

    /// <summary>The short, public id of a key (a hash of it): which key signed a clientState, never the key itself.</summary>
    public static string KeyIdOf(byte[] key) =>
        Base64Url.EncodeToString(SHA256.HashData([.. "PresenceActors clientState key id:"u8, .. key])[..6]);

    public string Create(string account)
    {
        var tag = AccountTag(account);
        var nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(12));
        return $"v2.{_current.Id}.{tag}.{nonce}.{Base64Url.EncodeToString(Mac(_current, $"v2.{_current.Id}.{tag}.{nonce}"))}";
    }

    /// <summary>True when the clientState was issued with a key held (compared in constant time).</summary>
    public bool Verify(string? clientState) => Verify(clientState, out _);

    /// <summary>
    /// True when the clientState was issued with a key this node holds; <paramref name="accountTag"/> names the technical
    /// account it was issued for (see <see cref="TagOf"/>), so that it can be held to that account's subscription.
    /// </summary>
    public bool Verify(string? clientState, out string? accountTag) => Verify(clientState, out accountTag, out _);

    /// <summary>As <see cref="Verify(string?, out string?)"/>, with the id of the key that signed it (null for a v1 clientState).</summary>
    public bool Verify(string? clientState, out string? accountTag, out string? keyId)
    {
        accountTag = null;
        keyId = null;
        if (clientState is null || clientState.Length > 128)
            return false;
        var parts = clientState.Split('.');
        Span<byte> presented = stackalloc byte[32];
        if (parts is ["v2", var id, var tag, var nonce, var mac])
        {
            var key = _keys.FirstOrDefault(k => k.Id == id);
            if (key is null || !TryReadMac(mac, presented)
                || !CryptographicOperations.FixedTimeEquals(presented, Mac(key, $"v2.{id}.{tag}.{nonce}")))
                return false;
            (accountTag, keyId) = (tag, id);
            return true;
        }

        if (parts is ["v1", var oldTag, var oldNonce, var oldMac] && TryReadMac(oldMac, presented))
        {
            // Made before key ids: any key held may have signed it.
            var signed = false;
            foreach (var key in _keys)
                signed |= CryptographicOperations.FixedTimeEquals(presented, Mac(key, $"{oldTag}.{oldNonce}"));
            if (signed)
                accountTag = oldTag;
            return signed;
        }

        return false;
    }

    /// <summary>The account's tag inside its clientStates: a short hash of the technical account's name.</summary>
    public static string TagOf(string account) => AccountTag(account);

    private static Key Make(byte[] secret, string name) =>
        secret.Length < 32
            ? throw new ArgumentException("A clientState key must be at least 32 bytes (256 bits).", name)
            : new Key(secret, KeyIdOf(secret));

    /// <summary>A 32-byte MAC in base64url; false (never an exception) for anything else a caller may send.</summary>
    private static bool TryReadMac(string text, Span<byte> into) =>
        Base64Url.IsValid(text, out var length) && length == 32 && Base64Url.TryDecodeFromChars(text, into, out var written) && written == 32;

    private static byte[] Mac(Key key, string signed) => HMACSHA256.HashData(key.Secret, Encoding.UTF8.GetBytes(signed));

    private static string AccountTag(string account) =>
        Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(account.ToLowerInvariant()))[..9]);
}
