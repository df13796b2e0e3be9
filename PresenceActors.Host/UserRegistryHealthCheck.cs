using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Registration;

namespace PresenceActors.Host;

/// <summary>
/// Ready only while the user registry singleton answers (the subscription pool has its own check): while it restarts
/// after a failure, registrations and reports cannot be taken.
/// </summary>
public sealed class UserRegistryHealthCheck(IRequiredActor<UserRegistryKey> registry) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await registry.ActorRef.Ask<UserRegistryCommands.LookupResult>(new UserRegistryCommands.Lookup(""), TimeSpan.FromSeconds(3), cancellationToken);
            return HealthCheckResult.Healthy("The user registry answers.");
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy("The user registry does not answer (starting, moving to another node, or restarting after a failure).");
        }
    }
}
