using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PresenceActors;

/// <summary>HTTP handlers that validate TLS as usual and also trust explicitly configured certificates (pinned by thumbprint).</summary>
public static class PinnedTls
{
    public static SocketsHttpHandler Handler(IReadOnlyList<X509Certificate2> trusted, TimeSpan? connectTimeout = null, int maxConnections = int.MaxValue)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = maxConnections };
        if (connectTimeout is { } timeout)
            handler.ConnectTimeout = timeout;
        if (trusted.Count > 0)
        {
            var pinned = trusted.Select(c => c.Thumbprint).ToHashSet(StringComparer.OrdinalIgnoreCase);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None || (certificate is not null && pinned.Contains(new X509Certificate2(certificate).Thumbprint));
        }

        return handler;
    }
}
