using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Webhooks;

namespace PresenceActors.Host;

/// <summary>
/// Not ready for a while after a notification named an encryption certificate this node does not hold, even after
/// reading the cluster's store (docs/operator-guide.md, "Cluster-wide secrets"): the load balancer sends Graph's next
/// deliveries to a node that can decrypt them, and the operator sees the certificate's id.
/// </summary>
public sealed class EncryptionCertificatesHealthCheck(EncryptionCertificates certificates, WebhookMetrics metrics, TimeProvider clock) : IHealthCheck
{
    /// <summary>How long one such notification keeps the node not ready.</summary>
    public static readonly TimeSpan NotReadyFor = TimeSpan.FromMinutes(2);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var held = string.Join(", ", certificates.Ids);
        if (metrics.LastUnknownCertificate is { } last && clock.GetUtcNow() - last.At < NotReadyFor)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"A notification at {last.At:HH:mm:ss} was encrypted for certificate {last.CertificateId}, which this node does not hold (it holds {held}; " +
                $"{metrics.UnknownCertificates} such notifications so far, answered 503). Every node must use the cluster's certificates: " +
                "leave presence.encryption.certificate unset with PostgreSQL, or give every node the same file."));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"current {certificates.CurrentId}; accepted {held}"));
    }
}
