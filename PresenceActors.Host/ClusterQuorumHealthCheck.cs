using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Cluster;

namespace PresenceActors.Host;

/// <summary>
/// Not ready while this node sees no more than half of the cluster's members (docs/decisions.md, "Partitions"): it
/// takes nothing in then, and a balancer that checks /healthz/ready sends the webhook and the internal API elsewhere.
/// </summary>
public sealed class ClusterQuorumHealthCheck(ClusterQuorum quorum) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(quorum.Held
            ? HealthCheckResult.Healthy("more than half of the cluster's members reachable")
            : HealthCheckResult.Unhealthy("no more than half of the cluster's members reachable (a partition, or the cluster still forming): nothing is taken in"));
}
