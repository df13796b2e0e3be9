using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace PresenceActors.Host;

public static class HealthEndpoints
{
    /// <summary>/healthz (everything), /healthz/live (the actor system), /healthz/ready (persistence and cluster).</summary>
    public static IEndpointRouteBuilder MapPresenceHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/healthz");
        endpoints.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("liveness") });
        endpoints.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => !c.Tags.Contains("liveness") });
        return endpoints;
    }
}
