using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Webhooks;

/// <summary>The encryptedContent of a rich notification.</summary>
public sealed record EncryptedContent(string Data, string DataSignature, string DataKey, string? EncryptionCertificateId, string? EncryptionCertificateThumbprint);

/// <summary>
/// Decrypts rich notifications: RSA-OAEP (SHA-1) unwraps the 32-byte key, HMAC-SHA256 over the ciphertext must match
/// dataSignature (checked before decrypting), then AES-256-CBC with IV = key[0..16] and PKCS7.
/// </summary>
public sealed class NotificationDecryptor(EncryptionCertificates certificates)
{
    private long _keysUnwrapped;

    /// <summary>
    /// Private keys already loaded, per certificate: OpenSSL 3 loads a key through its provider and decoder tables under
    /// locks, which cost more than the RSA decryption itself when done per item. Each key serves one decryption at a
    /// time; an entry goes with its certificate once the certificate is collected.
    /// </summary>
    private readonly ConditionalWeakTable<X509Certificate2, ConcurrentBag<RSA>> _keys = new();

    /// <summary>The certificate ids this node accepts now (for messages).</summary>
    public IReadOnlyList<string> CertificateIds => certificates.Ids;

    /// <summary>Data keys unwrapped with RSA: the webhook's largest CPU cost per item.</summary>
    public long KeysUnwrapped => Interlocked.Read(ref _keysUnwrapped);

    /// <summary>
    /// The plaintext JSON, or null with a reason when the content cannot be trusted. A certificate this node does not
    /// hold is looked for in the cluster's store first (another node may have rotated it a moment ago).
    /// </summary>
    public async ValueTask<(byte[]? Plaintext, string? Problem)> DecryptAsync(EncryptedContent content, CancellationToken cancellationToken)
    {
        var certificate = certificates.Find(content.EncryptionCertificateId, content.EncryptionCertificateThumbprint)
                          ?? await certificates.FindOrReloadAsync(content.EncryptionCertificateId, content.EncryptionCertificateThumbprint, cancellationToken);
        if (certificate is null)
            return (null, UnknownCertificate);
        // On the lane's threads, not the thread pool's (DecryptionLane).
        return await DecryptionLane.Shared.Run(() => (Decrypt(content, certificate, out var problem), problem)).WaitAsync(cancellationToken);
    }

    /// <summary>Whether this node (or, after a reload, the cluster's store) holds the certificate named.</summary>
    public async ValueTask<bool> HoldsAsync(string? id, string? thumbprint, CancellationToken cancellationToken) =>
        certificates.Find(id, thumbprint) is not null || await certificates.FindOrReloadAsync(id, thumbprint, cancellationToken) is not null;

    /// <summary>The drop reason of an item encrypted for a certificate neither this node nor the store holds.</summary>
    public const string UnknownCertificate = "unknown-certificate";

    private byte[]? Decrypt(EncryptedContent content, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, out string? problem)
    {
        problem = null;

        try
        {
            var key = Unwrap(certificate, Convert.FromBase64String(content.DataKey));
            var data = Convert.FromBase64String(content.Data);
            var expected = HMACSHA256.HashData(key, data);
            if (!CryptographicOperations.FixedTimeEquals(expected, Convert.FromBase64String(content.DataSignature)))
            {
                problem = "bad-signature";
                return null;
            }

            using var aes = Aes.Create();
            aes.Key = key;
            return aes.DecryptCbc(data, key.AsSpan(0, 16), PaddingMode.PKCS7);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            problem = "undecryptable";
            return null;
        }
    }

    private byte[] Unwrap(X509Certificate2 certificate, byte[] dataKey)
    {
        var free = _keys.GetValue(certificate, _ => []);
        if (!free.TryTake(out var rsa))
            rsa = certificate.GetRSAPrivateKey() ?? throw new CryptographicException("the encryption certificate has no RSA private key");
        Interlocked.Increment(ref _keysUnwrapped);
        try
        {
            return rsa.Decrypt(dataKey, RSAEncryptionPadding.OaepSHA1);
        }
        finally
        {
            free.Add(rsa);
        }
    }
}
