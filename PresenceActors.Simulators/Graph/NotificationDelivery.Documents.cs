using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace PresenceActors.Simulators.Graph;

/// <summary>What the simulator sends, as Graph shapes it: lifecycle events, the validation handshake, items, their encryption and validationTokens.</summary>
public sealed partial class NotificationDelivery
{
    /// <summary>A lifecycle notification (presence only ever gets reauthorizationRequired).</summary>
    public async Task<bool> SendLifecycleAsync(SimSubscription subscription, string lifecycleEvent)
    {
        if (subscription.LifecycleNotificationUrl is null)
            return false;
        var body = new JsonObject
        {
            ["value"] = new JsonArray(new JsonObject
            {
                ["subscriptionId"] = subscription.Id,
                ["subscriptionExpirationDateTime"] = subscription.ExpirationDateTime.ToString("O"),
                ["tenantId"] = _tenant.TenantId,
                ["clientState"] = subscription.ClientState,
                ["lifecycleEvent"] = lifecycleEvent,
            }),
        };
        return await PostAsync(subscription.LifecycleNotificationUrl, body);
    }

    /// <summary>The validation handshake: the receiver must echo the URL-decoded token as text/plain within 10 s.</summary>
    public async Task<bool> ValidateEndpointAsync(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || !IsLoopback(uri))
            return false;
        var token = $"Validation: Testing client application reachability for subscription Request-Id: {Guid.NewGuid()}";
        var separator = url.Contains('?') ? "&" : "?";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{url}{separator}validationToken={Uri.EscapeDataString(token)}")
        {
            Content = new StringContent("", Encoding.UTF8, "text/plain"),
        };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await _http.SendAsync(request, deadline.Token);
            var echoed = await response.Content.ReadAsStringAsync(deadline.Token);
            return response.StatusCode == HttpStatusCode.OK
                   && response.Content.Headers.ContentType?.MediaType == "text/plain"
                   && echoed == token;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            LastValidationFailure = $"{e.GetType().Name}: {e.Message}";
            return false;
        }
    }

    /// <summary>Why the last validation handshake failed in transport (for diagnosing tests).</summary>
    public string? LastValidationFailure { get; private set; }

    private JsonObject BuildItem(SimSubscription subscription, PresenceChange change)
    {
        var resource = $"communications/presences('{change.UserId}')";
        var item = new JsonObject
        {
            ["subscriptionId"] = subscription.Id,
            ["subscriptionExpirationDateTime"] = subscription.ExpirationDateTime.ToString("O"),
            ["changeType"] = "updated",
            ["clientState"] = subscription.ClientState,
            ["tenantId"] = _tenant.TenantId,
            ["organizationId"] = _tenant.TenantId,
            ["resource"] = resource,
            ["resourceData"] = new JsonObject
            {
                ["@odata.type"] = "#microsoft.graph.presence",
                ["@odata.id"] = resource,
                ["id"] = change.UserId,
            },
        };
        if (subscription.IncludeResourceData && subscription.EncryptionCertificate is { } certificate)
        {
            var presence = new JsonObject
            {
                ["@odata.type"] = "#microsoft.graph.presence",
                ["@odata.id"] = $"users/{change.UserId}/presence",
                ["id"] = change.UserId,
                ["availability"] = change.Availability,
                ["activity"] = change.Activity,
                ["sequenceNumber"] = change.SequenceNumber,
            };
            item["encryptedContent"] = Encrypt(Encoding.UTF8.GetBytes(presence.ToJsonString()), certificate, subscription.EncryptionCertificateId!);
        }

        return item;
    }

    /// <summary>Public keys already loaded, per certificate; each serves one encryption at a time.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<X509Certificate2, System.Collections.Concurrent.ConcurrentBag<RSA>> PublicKeys = new();

    /// <summary>
    /// docs/graph-api.md, section 5, mirrored: a fresh 32-byte key; AES-256-CBC with IV = key[0..16] and PKCS7; HMAC-SHA256 of the
    /// ciphertext with the key; the key wrapped with RSA-OAEP (SHA-1) for the subscriber's certificate.
    /// </summary>
    public static JsonObject Encrypt(byte[] plaintext, X509Certificate2 certificate, string certificateId)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var aes = Aes.Create();
        aes.Key = key;
        var data = aes.EncryptCbc(plaintext, key.AsSpan(0, 16), PaddingMode.PKCS7);
        var signature = HMACSHA256.HashData(key, data);
        // The public key is loaded once per certificate: OpenSSL 3 decodes it through its provider tables under locks,
        // which cost more than the encryption (the simulator shares the cores with the service in tests and benchmarks).
        var keys = PublicKeys.GetValue(certificate, _ => []);
        if (!keys.TryTake(out var rsa))
            rsa = certificate.GetRSAPublicKey() ?? throw new InvalidOperationException("The encryption certificate has no RSA key.");
        byte[] wrapped;
        try
        {
            wrapped = rsa.Encrypt(key, RSAEncryptionPadding.OaepSHA1);
        }
        finally
        {
            keys.Add(rsa);
        }

        return new JsonObject
        {
            ["data"] = Convert.ToBase64String(data),
            ["dataSignature"] = Convert.ToBase64String(signature),
            ["dataKey"] = Convert.ToBase64String(wrapped),
            ["encryptionCertificateId"] = certificateId,
            ["encryptionCertificateThumbprint"] = certificate.Thumbprint,
        };
    }

    /// <summary>One validationToken per (application, tenant) present in a POST that carries resource data.</summary>
    public string ValidationToken(string applicationId) => ValidationToken(applicationId, null);

    /// <summary>
    /// A validationToken signed with Graph's key as <see cref="ValidationToken(string)"/> makes it, its claims changed
    /// by <paramref name="adjust"/> first (tests: a token expired, for another tenant, from another publisher).
    /// </summary>
    public string ValidationToken(string applicationId, Action<JsonObject>? adjust)
    {
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["aud"] = applicationId,
            ["iss"] = $"https://sts.windows.net/{_tenant.TenantId}/",
            ["iat"] = now,
            ["nbf"] = now - 60,
            ["exp"] = now + 3600,
            ["appid"] = ChangeNotificationPublisherAppId,
            ["azp"] = ChangeNotificationPublisherAppId,
            ["appidacr"] = "2",
            ["tid"] = _tenant.TenantId,
            ["ver"] = "1.0",
        };
        adjust?.Invoke(claims);
        return _signer.Sign(claims);
    }
}
