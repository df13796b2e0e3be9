using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Subscriptions;

namespace PresenceActors.Host;

/// <summary>Ready only while at least one technical account can sign in and hold a subscription.</summary>
public sealed class TechnicalAccountsHealthCheck(IRequiredActor<SubscriptionPoolKey> pool) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        PoolStatus status;
        try
        {
            status = await pool.ActorRef.Ask<PoolStatus>(new SubscriptionPoolCommands.GetPoolStatus(), TimeSpan.FromSeconds(3), cancellationToken);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy("The subscription pool does not answer.");
        }

        var healthy = status.Accounts.Count(a => a.Healthy && !a.Draining);
        var problems = string.Join("; ", status.Accounts.Where(a => !a.Healthy).Select(a => $"{a.Account}: {a.Problem}"));
        var data = new Dictionary<string, object> { ["healthyAccounts"] = healthy, ["accounts"] = status.Accounts.Length, ["unwatchedUsers"] = status.UnwatchedUsers };
        if (healthy == 0)
            return HealthCheckResult.Unhealthy($"No technical account can hold a subscription. {problems}", data: data);
        return problems.Length > 0 || status.UnwatchedUsers > 0
            ? HealthCheckResult.Degraded($"{healthy} of {status.Accounts.Length} technical accounts healthy; {status.UnwatchedUsers} users unwatched. {problems}", data: data)
            : HealthCheckResult.Healthy($"{healthy} technical accounts healthy", data);
    }
}
