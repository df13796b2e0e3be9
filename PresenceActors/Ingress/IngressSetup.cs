using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Persistence;
using PresenceActors.Webhooks;

namespace PresenceActors.Ingress;

public static class IngressSetup
{
    /// <summary>
    /// The persist-first webhook: admission in the request, the ingress log (its own SQLite file beside the journal, or
    /// the cluster's PostgreSQL table) and its processing after the answer.
    /// </summary>
    public static IServiceCollection AddNotificationIngress(this IServiceCollection services, IngressOptions options, PresenceNodeOptions node)
    {
        services.AddSingleton(options);
        services.AddSingleton<ItemAuthenticity>();
        services.AddSingleton<NotificationHandler>();
        services.AddSingleton<IIngressHandler>(sp => sp.GetRequiredService<NotificationHandler>());
        services.AddSingleton<IIngressStore>(_ => node.Persistence.Provider == PersistenceProvider.PostgreSql
            ? new PostgresIngressStore(Npgsql.NpgsqlDataSource.Create(PersistenceSetup.PreparePostgres(node.Persistence.ConnectionString)), OwnerOf(node), options.Lease)
            : new SqliteIngressStore(SqliteIngressStore.PathBeside(node.Persistence.ConnectionString)));
        services.AddSingleton(sp => new IngressLog(sp.GetRequiredService<IIngressStore>(), sp.GetRequiredService<IIngressHandler>(), options,
            sp.GetRequiredService<ILogger<IngressLog>>(), sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetService<TimeProvider>()));
        services.AddHostedService(sp => sp.GetRequiredService<IngressLog>());
        services.AddSingleton<NotificationAdmission>();
        return services;
    }

    /// <summary>
    /// Whose entries these are: the node's cluster address, which a node restarted on the same address shares with its
    /// previous run (so it takes its own entries back at once).
    /// </summary>
    public static string OwnerOf(PresenceNodeOptions node) => node.Cluster.Advertised;
}
