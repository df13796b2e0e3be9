using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Users;

namespace PresenceActors.Graph;

public static class GraphSetup
{
    /// <summary>
    /// Microsoft Graph through one gateway (docs/graph-api.md): it is the Teams presence port, the subscriptions'
    /// Graph and the user directory, with one presence governor per application (docs/graph-budget.md).
    /// </summary>
    public static IServiceCollection AddGraphGateway(this IServiceCollection services, GraphOptions options)
    {
        services.AddMetrics();
        services.AddSingleton(sp => new GraphMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton(sp => new GraphGateway(options, metrics: sp.GetRequiredService<GraphMetrics>()));
        services.AddSingleton<ITeamsPresencePort>(sp => sp.GetRequiredService<GraphGateway>());
        services.AddSingleton<ISubscriptionGraph>(sp => sp.GetRequiredService<GraphGateway>());
        services.AddSingleton<IUserDirectory>(sp => sp.GetRequiredService<GraphGateway>());
        return services;
    }

    /// <summary>Keeps each governor's share at the budget over the cluster's Up members (docs/graph-budget.md, "Shares").</summary>
    public static AkkaConfigurationBuilder WithBudgetShares(this AkkaConfigurationBuilder builder, IServiceProvider services) =>
        builder.WithActors((system, _) =>
            system.ActorOf(Props.Create(() => new BudgetShareListener(services.GetRequiredService<GraphGateway>())), "budget-share"));
}
