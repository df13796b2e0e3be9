using Akka.Cluster.Hosting;
using Akka.Hosting;
using PresenceActors.Cluster;
using PresenceActors.Graph;
using PresenceActors.Host.Admin;
using PresenceActors.Host.UcApi;
using PresenceActors.Host.Webhooks;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.UcFrontEnd;

namespace PresenceActors.Host;

/// <summary>
/// Composes one node of the service (docs/architecture.md): each feature wires itself; this is the table of contents.
/// </summary>
public static class PresenceService
{
    public static WebApplication Build(PresenceServiceOptions options, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root is the program's folder, wherever the command is typed: its appsettings.json, not one that
        // happens to lie in the current folder.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        // Under systemd (Type=notify): ready is signalled once the host has started, stop on SIGTERM, journald log format.
        builder.Host.UseSystemd();
        builder.AddPresenceListeners(options).AddPresenceObservability(options);

        builder.Services.AddSingleton(options).AddSingleton(TimeProvider.System)
            .AddAdmin(options)
            .AddGraphGateway(options.Graph)
            .AddUcFrontEnds(options.FrontEnds)
            .AddClusterQuorum()
            .AddGraphWebhook(options)
            .AddPresenceNode(options.Node, (akka, provider) => akka
                .WithActorSystemLivenessCheck()
                .WithAkkaClusterReadinessCheck()
                .WithSubscriptionPool(provider, GraphWebhookSetup.SubscriptionPool(options, provider), [.. options.Graph.TechnicalAccounts.Select(a => a.Username)])
                .WithUserRegistry()
                .WithKnownSubscriptions(provider)
                .WithClusterQuorum(provider)
                .WithMemberRemovedResync()
                .WithBudgetShares(provider)
                .WithClusterHocon());
        configure?.Invoke(builder);

        var app = builder.Build();
        app.LogConfigurationWarnings(options).UsePresenceErrors().UsePresenceListeners().UseGraphWebhookProxies(options).UseRateLimiter();
        app.MapGraphWebhook(options.MaxWebhookBodyBytes, options.WebhookRequestsPerSource > 0);
        app.MapUcApi(options.InternalApiKey, options.InternalApiClientCertificates);
        app.MapAdmin();
        app.MapStatusPage();
        app.MapPresenceHealth();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
