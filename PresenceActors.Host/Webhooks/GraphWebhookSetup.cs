using System.Globalization;
using System.Threading.RateLimiting;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using PresenceActors.Graph;
using PresenceActors.Ingress;
using PresenceActors.Subscriptions;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Webhooks;

/// <summary>The webhook's wiring: admission and its per-source limit, the ingress log and what processes it afterwards.</summary>
public static class GraphWebhookSetup
{
    /// <summary>The named HttpClient that reads Entra's OpenID metadata for the validationTokens.</summary>
    public const string OpenIdClient = "entra-openid";

    public static IServiceCollection AddGraphWebhook(this IServiceCollection services, PresenceServiceOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            // Per source address on the public webhook: Graph's senders stay far below it; a flood from one address does not.
            limiter.AddPolicy(GraphWebhookEndpoints.RateLimitPolicy, context =>
                RateLimitPartition.GetFixedWindowLimiter(
                    context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = Math.Max(1, options.WebhookRequestsPerSource),
                        Window = options.WebhookRateWindow,
                        QueueLimit = 0,
                    }));
            limiter.OnRejected = async (rejected, _) =>
            {
                var retry = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : options.WebhookRateWindow;
                rejected.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"More than {options.WebhookRequestsPerSource} requests from this address within {options.WebhookRateWindow.TotalSeconds:0.#} s.",
                    extensions: new Dictionary<string, object?> { ["field"] = "source" }).ExecuteAsync(rejected.HttpContext);
            };
        });

        services.AddSingleton(new ClientStateSigner(options.ClientStateKey, options.PreviousClientStateKeys, options.NextClientStateKeys));
        services.AddSingleton(LoadEncryption(options)); // at once: a node without its certificates does not start
        services.AddSingleton<NotificationDecryptor>();
        services.AddSingleton<KnownSubscriptionsCache>();
        services.AddSingleton(new DuplicateFilter());
        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton(options.WebhookFlow);
        // Entra's OpenID metadata and signing keys: no retries in the client, an entry whose tokens cannot be checked yet
        // waits in the ingress log and is tried again (docs/architecture.md, "Where retries live").
        services.AddHttpClient(OpenIdClient, http => http.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => PinnedTls.Handler(options.Graph.EntraTrustedCertificates))
            .RemoveAllLoggers();
        services.AddSingleton(sp => new ValidationTokenValidator(options.OpenIdConfiguration, options.Graph.TenantId, () => sp.GetRequiredService<GraphGateway>().Applications,
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(OpenIdClient)));
        return services.AddNotificationIngress(options.Ingress, options.Node);
    }

    /// <summary>The subscription pool's settings, with this node's webhook, certificates and clientState signer.</summary>
    public static SubscriptionPoolOptions SubscriptionPool(PresenceServiceOptions options, IServiceProvider services)
    {
        var certificates = services.GetRequiredService<EncryptionCertificates>();
        return new SubscriptionPoolOptions
        {
            NotificationUrl = options.WebhookReceiver,
            LifecycleNotificationUrl = options.LifecycleUrl,
            Encryption = () => certificates.CurrentWithId,
            ReloadEncryption = certificates.Rotatable ? certificates.ReloadAsync : null,
            ClientState = services.GetRequiredService<ClientStateSigner>(),
            SubscriptionLifetime = options.SubscriptionLifetime,
            RenewBefore = options.RenewBefore,
            Debounce = options.MembershipDebounce,
            ReconcileEvery = options.ReconcileEvery,
            ReadRelevance = new Users.ReadRelevance(services.GetRequiredService<Mapping.PresenceRulesSource>(), services.GetRequiredService<Users.WorkInFlight>(),
                services.GetRequiredService<PresenceMetrics>()),
        };
    }

    /// <summary>Feeds the cache of known subscription ids from the pool's publications.</summary>
    public static AkkaConfigurationBuilder WithKnownSubscriptions(this AkkaConfigurationBuilder builder, IServiceProvider services) =>
        builder.WithActors((system, _) =>
            system.ActorOf(Props.Create(() => new KnownSubscriptionsListener(services.GetRequiredService<KnownSubscriptionsCache>())), "known-subscriptions"));

    /// <summary>
    /// Behind HAProxy every request comes from the proxy: the webhook's per-source limit keys on the client address the
    /// proxy forwards (X-Forwarded-For), believed only from presence.webhook.trustedProxies. ASP.NET Core trusts loopback
    /// proxies by default; that default is cleared, so an unlisted peer's header is ignored.
    /// </summary>
    public static WebApplication UseGraphWebhookProxies(this WebApplication app, PresenceServiceOptions options)
    {
        if (options.WebhookTrustedProxies.Count == 0)
            return app;
        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = 1 };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in options.WebhookTrustedProxies)
            forwarded.KnownIPNetworks.Add(network);
        app.UseWhen(context => context.Connection.LocalPort == context.RequestServices.GetRequiredService<ListenerPorts>().Webhook,
            branch => branch.UseForwardedHeaders(forwarded));
        return app;
    }

    /// <summary>
    /// The node's notification encryption certificates: from the file, or from the cluster's store, which a node
    /// starting with its database still on the way waits for (up to a minute) rather than making certificates of its own.
    /// </summary>
    private static EncryptionCertificates LoadEncryption(PresenceServiceOptions options)
    {
        if (options.EncryptionStore is not { } store)
            return new EncryptionCertificates(options.EncryptionCertificate ?? throw new InvalidOperationException("No encryption certificate and no store."),
                options.PreviousEncryptionCertificates);
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            try
            {
                return EncryptionCertificates.FromStoreAsync(store, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Npgsql.NpgsqlException e) when (DateTime.UtcNow < deadline)
            {
                Console.Error.WriteLine($"encryption-certificates-waiting: the database does not answer yet ({e.Message.Split('\n')[0]}); trying again");
                Thread.Sleep(TimeSpan.FromSeconds(2)); // start-up only: nothing else runs yet
            }
        }
    }
}
