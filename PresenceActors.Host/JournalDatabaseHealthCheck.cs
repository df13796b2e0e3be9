using System.Data.Common;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PresenceActors.Persistence;

namespace PresenceActors.Host;

/// <summary>
/// Ready only while the journal's database answers a query: the journal actors' own checks report them alive even when
/// PostgreSQL has gone away, and a node that cannot record decisions must not take traffic from the load balancer.
/// </summary>
public sealed class JournalDatabaseHealthCheck(PresencePersistenceOptions persistence) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            await using var connection = PersistenceSetup.JournalConnection(persistence);
            await connection.OpenAsync(deadline.Token);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(deadline.Token);
            return HealthCheckResult.Healthy($"{persistence.Provider} answers");
        }
        catch (Exception e) when (e is DbException or OperationCanceledException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            // The message names the cause (refused, timed out, authentication) but never the connection string.
            return HealthCheckResult.Unhealthy($"The {persistence.Provider} journal database does not answer: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }
}
