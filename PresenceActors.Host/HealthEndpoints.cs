using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace PresenceActors.Host;

public static class HealthEndpoints
{
    /// <summary>/healthz (everything), /healthz/live (the actor system), /healthz/ready (cluster joined, journal and snapshot store reachable, a healthy technical account).</summary>
    public static IEndpointRouteBuilder MapPresenceHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/healthz", new HealthCheckOptions { ResponseWriter = WriteJson });
        endpoints.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("liveness"), ResponseWriter = WriteJson });
        endpoints.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => !c.Tags.Contains("liveness"), ResponseWriter = WriteJson });
        return endpoints;
    }

    /// <summary>Each check with its status and what it said, so that an operator sees why a node is not ready.</summary>
    private static Task WriteJson(HttpContext context, Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }
}
