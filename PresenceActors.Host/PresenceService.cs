using System.Net;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PresenceActors.Graph;
using PresenceActors.Host.Admin;
using PresenceActors.Ingress;
using PresenceActors.Host.UcApi;
using PresenceActors.Host.Webhooks;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.UcFrontEnd;
using PresenceActors.Users;
using PresenceActors.Webhooks;

namespace PresenceActors.Host;

/// <summary>The bound ports of a running node (the configured ones, or those picked for port 0).</summary>
public sealed class ListenerPorts
{
    public int Webhook { get; internal set; }

    public int InternalApi { get; internal set; }

    public int Admin { get; internal set; }
}

/// <summary>Composes one node of the service: Kestrel listeners, Graph, UC front ends, actors, endpoints.</summary>
public static class PresenceService
{
    public static WebApplication Build(PresenceServiceOptions options, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root is the program's folder, wherever the command is typed: its appsettings.json, not one that
        // happens to lie in the current folder.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        // Under systemd (Type=notify): ready is signalled once the host has started, stop on SIGTERM, journald log format.
        // Elsewhere this does nothing.
        builder.Host.UseSystemd();
        var listeners = new List<(string Role, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions Listen)>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, "webhook", options.Webhook, options.TlsVersions, listeners);
            Listen(kestrel, "internal-api", options.InternalApi, options.TlsVersions, listeners, clientCertificates: options.InternalApiClientCertificates.Count > 0);
            Listen(kestrel, "admin", options.Admin, options.TlsVersions, listeners);
        });

        if (options.JsonLogs)
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole();
        }

        // JSON lines carry their time (presence.logging.json, or Logging:Console:FormatterName=json).
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.JsonConsoleFormatterOptions>(json =>
        {
            json.UseUtcTimestamp = true;
            json.TimestampFormat ??= "yyyy-MM-ddTHH:mm:ss.fffZ";
        });

        var services = builder.Services;
        services.AddRateLimiter(limiter =>
        {
            // Per source address on the public webhook: Graph's senders stay far below it; a flood from one address does not.
            limiter.AddPolicy(Webhooks.GraphWebhookEndpoints.RateLimitPolicy, context =>
                System.Threading.RateLimiting.RateLimitPartition.GetFixedWindowLimiter(
                    context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new System.Threading.RateLimiting.FixedWindowRateLimiterOptions
                    {
                        PermitLimit = Math.Max(1, options.WebhookRequestsPerSource),
                        Window = options.WebhookRateWindow,
                        QueueLimit = 0,
                    }));
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var retry = rejected.Lease.TryGetMetadata(System.Threading.RateLimiting.MetadataName.RetryAfter, out var after) ? after : options.WebhookRateWindow;
                rejected.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"More than {options.WebhookRequestsPerSource} requests from this address within {options.WebhookRateWindow.TotalSeconds:0.#} s.",
                    extensions: new Dictionary<string, object?> { ["field"] = "source" }).ExecuteAsync(rejected.HttpContext);
            };
        });
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new AdminAccess(options.AdminToken, options.AdminOpen, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ListenerPorts>();
        services.AddSingleton(_ => new GraphGateway(options.Graph));
        services.AddSingleton<ITeamsPresencePort>(sp => sp.GetRequiredService<GraphGateway>());
        services.AddSingleton<ISubscriptionGraph>(sp => sp.GetRequiredService<GraphGateway>());
        services.AddSingleton<IUserDirectory>(sp => sp.GetRequiredService<GraphGateway>());
        services.AddSingleton(sp => new UcFrontEndEmitter(options.FrontEnds, sp.GetRequiredService<ILogger<UcFrontEndEmitter>>()));
        services.AddSingleton<IUcFrontEndPort>(sp => sp.GetRequiredService<UcFrontEndEmitter>());

        var clientState = new ClientStateSigner(options.ClientStateKey, options.PreviousClientStateKeys, options.NextClientStateKeys);
        var certificates = LoadEncryption(options);
        services.AddSingleton(clientState);
        services.AddSingleton(certificates);
        services.AddSingleton<NotificationDecryptor>();
        services.AddSingleton<KnownSubscriptionsCache>();
        services.AddSingleton(new DuplicateFilter());
        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton(options.WebhookFlow);
        services.AddSingleton<WebhookTargets>();
        services.AddSingleton<PresenceActors.Cluster.ClusterQuorum>();
        services.AddSingleton(sp => new ValidationTokenValidator(options.OpenIdConfiguration, options.Graph.TenantId, () => sp.GetRequiredService<GraphGateway>().Applications,
            new HttpClient(PinnedTls.Handler(options.Graph.EntraTrustedCertificates)) { Timeout = TimeSpan.FromSeconds(10) }));
        services.AddNotificationIngress(options.Ingress, options.Node);

        var pool = new SubscriptionPoolOptions
        {
            NotificationUrl = options.WebhookReceiver,
            LifecycleNotificationUrl = options.LifecycleUrl,
            Encryption = () => certificates.CurrentWithId,
            ReloadEncryption = certificates.Rotatable ? certificates.ReloadAsync : null,
            ClientState = clientState,
            SubscriptionLifetime = options.SubscriptionLifetime,
            RenewBefore = options.RenewBefore,
            Debounce = options.MembershipDebounce,
            ReconcileEvery = options.ReconcileEvery,
        };
        services.AddPresenceNode(options.Node, (akka, provider) =>
        {
            akka.WithActorSystemLivenessCheck()
                .WithAkkaClusterReadinessCheck()
                .WithSubscriptionPool(provider, pool, [.. options.Graph.TechnicalAccounts.Select(a => a.Username)])
                .WithUserRegistry()
                .WithActors((system, registry) =>
                {
                    system.ActorOf(Props.Create(() => new KnownSubscriptionsListener(provider.GetRequiredService<KnownSubscriptionsCache>())), "known-subscriptions");
                    provider.GetRequiredService<PresenceActors.Cluster.ClusterQuorum>().Attach(system);
                    var targets = provider.GetRequiredService<WebhookTargets>();
                    targets.Users = registry.Get<UserPresenceRegion>();
                    targets.Pool = registry.Get<SubscriptionPoolKey>();
                    system.ActorOf(Props.Create(() => new MemberRemovedResync(targets.Pool, TimeSpan.FromSeconds(5))), "member-removed-resync");
                    system.ActorOf(Props.Create(() => new BudgetShareListener(provider.GetRequiredService<GraphGateway>())), "budget-share");
                });
            var hocon = Path.Combine(AppContext.BaseDirectory, "hocon", "cluster.hocon");
            if (File.Exists(hocon))
                akka.AddHoconFile(hocon, HoconAddMode.Prepend); // over the defaults Akka.Hosting brings, or they would not count
        });
        var telemetry = services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(PresenceMetrics.MeterName)
            .AddPrometheusExporter());
        if (TracingSetup.OtlpConfigured)
            telemetry.WithTracing(tracing => TracingSetup.Instrument(tracing).AddOtlpExporter());
        services.AddHealthChecks()
            .AddCheck<TechnicalAccountsHealthCheck>("technical-accounts", tags: ["ready"])
            .AddCheck<UserRegistryHealthCheck>("user-registry", tags: ["ready"])
            .AddCheck("journal-database", new JournalDatabaseHealthCheck(options.Node.Persistence), tags: ["ready"])
            .AddCheck<EncryptionCertificatesHealthCheck>("encryption-certificates", tags: ["ready"])
            .AddCheck<ClusterQuorumHealthCheck>("cluster-quorum", tags: ["ready"]);
        configure?.Invoke(builder);

        var app = builder.Build();
        var startup = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PresenceActors.Host.Configuration");
        foreach (var warning in options.Warnings)
            startup.LogWarning("configuration-warning {Warning}", warning);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var ports = app.Services.GetRequiredService<ListenerPorts>();
            foreach (var (role, listen) in listeners)
            {
                var port = listen.IPEndPoint!.Port;
                switch (role)
                {
                    case "webhook": ports.Webhook = port; break;
                    case "internal-api": ports.InternalApi = port; break;
                    default: ports.Admin = port; break;
                }
            }
        });

        // A failure nobody handled: logged with its stack trace, answered as a problem without one.
        app.UseExceptionHandler(errors => errors.Run(async context =>
        {
            var failure = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
            if (failure is AskTimeoutException)
            {
                // A singleton restarting after a failure, moving to another node, or a user's shard moving: not a bug
                // of the request, and it will pass.
                context.Response.Headers.RetryAfter = "5";
                await Results.Problem(title: "Not available", statusCode: StatusCodes.Status503ServiceUnavailable,
                    detail: "A part of the cluster this request needs (the user registry, the subscription pool or the user's actor) did not answer in time; it may be restarting or moving. Try again.",
                    extensions: new Dictionary<string, object?> { ["field"] = "cluster" }).ExecuteAsync(context);
                return;
            }

            var incident = Guid.NewGuid().ToString("N")[..12];
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("PresenceActors.Host.Requests")
                .LogError(failure, "request-failed incident={Incident} method={Method} path={Path}", incident, context.Request.Method, context.Request.Path.Value);
            await Results.Problem(title: "Internal error", statusCode: StatusCodes.Status500InternalServerError,
                detail: $"The request failed on our side and was logged as incident {incident}.",
                extensions: new Dictionary<string, object?> { ["incident"] = incident }).ExecuteAsync(context);
        }));

        // Each surface answers only on its own listener: Graph never reaches the internal API, nor the UC back end the admin.
        app.Use(async (context, next) =>
        {
            var ports = context.RequestServices.GetRequiredService<ListenerPorts>();
            var local = context.Connection.LocalPort;
            var path = context.Request.Path;
            var allowed = local == ports.Webhook ? path.StartsWithSegments("/graph")
                : local == ports.InternalApi ? path.StartsWithSegments("/api")
                : local == ports.Admin ? !path.StartsWithSegments("/graph") && !path.StartsWithSegments("/api")
                : false;
            if (!allowed)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            // /metrics and /healthz need the admin token unless presence.admin.open names them (/admin and /status check
            // their callers themselves, AdminAccess.Check).
            var kind = path.StartsWithSegments("/metrics") ? "metrics" : path.StartsWithSegments("/healthz") ? "health" : null;
            if (local == ports.Admin && kind is not null
                && ((context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote) ? AdminAccess.LocalOnly(context, $"/{kind}") : null)
                    ?? context.RequestServices.GetRequiredService<AdminAccess>().CheckOpen(context, kind)) is { } refused)
            {
                // A loopback caller must name the node by address or localhost (a page made to resolve to 127.0.0.1
                // would otherwise read them through the operator's browser); then the token, unless presence.admin.open.
                await refused.ExecuteAsync(context);
                return;
            }

            await next(context);
        });
        // Behind HAProxy every request comes from the proxy: the webhook's per-source limit keys on the client address
        // the proxy forwards (X-Forwarded-For), believed only from presence.webhook.trustedProxies. ASP.NET Core trusts
        // loopback proxies by default; that default is cleared, so an unlisted peer's header is ignored.
        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = 1 };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in options.WebhookTrustedProxies)
            forwarded.KnownIPNetworks.Add(network);
        if (options.WebhookTrustedProxies.Count > 0)
        {
            app.UseWhen(context => context.Connection.LocalPort == context.RequestServices.GetRequiredService<ListenerPorts>().Webhook,
                branch => branch.UseForwardedHeaders(forwarded));
        }

        app.UseRateLimiter();
        app.MapGraphWebhook(options.MaxWebhookBodyBytes, options.WebhookRequestsPerSource > 0);
        app.MapUcApi(options.InternalApiKey, options.InternalApiClientCertificates);
        app.MapAdmin();
        app.MapStatusPage();
        app.MapPresenceHealth();
        app.MapPrometheusScrapingEndpoint("/metrics");
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

    private static void Listen(KestrelServerOptions kestrel, string role, ListenerOptions options, System.Security.Authentication.SslProtocols tls,
        List<(string, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions)> listeners, bool clientCertificates = false)
    {
        kestrel.Listen(options.Address, options.Port, listen =>
        {
            if (options.Certificate is { } certificate)
            {
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    https.SslProtocols = tls; // never below TLS 1.2
                    if (clientCertificates)
                    {
                        // Asked for, and pinned by thumbprint in the internal API's filter (a UC back end's certificate is
                        // usually from a private CA this machine does not trust).
                        https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
                        https.AllowAnyClientCertificate();
                    }
                });
            }
            else if (!IPAddress.IsLoopback(options.Address))
            {
                throw new InvalidOperationException($"The {role} listener on {options.Address} needs a TLS certificate; only loopback may be plain HTTP.");
            }

            listeners.Add((role, listen));
        });
    }
}
