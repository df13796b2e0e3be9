using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PresenceActors.Simulators.Common;

namespace PresenceActors.Simulators.Graph;

public sealed record GraphSimulatorOptions
{
    /// <summary>Loopback only: the simulator never listens on, or calls, anything else.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests); 9443 in the sandbox.</summary>
    public int Port { get; init; }

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Graph's documented rate limits (on by default).</summary>
    public bool RateLimits { get; init; } = true;

    /// <summary>How often expired sessions, preferences and subscriptions are noticed.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Microsoft Graph and Entra ID over HTTPS on loopback, for the real Azure.Identity and Microsoft.Graph SDKs
/// (docs/graph-api.md, section 8): point AuthorityHost at <see cref="BaseUrl"/>, the Graph client at <see cref="GraphUrl"/>,
/// and trust <see cref="Certificate"/>.
/// </summary>
public sealed class GraphSimulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ITimer _ticker;
    private readonly Lazy<HttpClient> _self;

    private GraphSimulator(WebApplication app, SimTenant tenant, SimFaults faults, X509Certificate2 certificate, SimJwt signer, NotificationDelivery delivery, ITimer ticker)
    {
        _app = app;
        Tenant = tenant;
        Faults = faults;
        Certificate = certificate;
        Signer = signer;
        Delivery = delivery;
        _ticker = ticker;
        _self = new Lazy<HttpClient>(() => new HttpClient(CreateTrustingHandler()));
    }

    /// <summary>A client for the simulator's own endpoints: each request of a JSON batch is sent through them.</summary>
    internal HttpClient Self => _self.Value;

    public SimTenant Tenant { get; }

    public SimFaults Faults { get; }

    public X509Certificate2 Certificate { get; }

    internal SimJwt Signer { get; }

    public NotificationDelivery Delivery { get; }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Signalled when the process is asked to stop (SIGTERM, Ctrl+C).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    public Uri GraphUrl => new(BaseUrl, "v1.0/");

    /// <summary>Lifetime of the access tokens Entra issues (3599 s, as Entra does); shorter ones make clients fetch often.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(3599);

    /// <summary>For Azure.Identity's AuthorityHost.</summary>
    public Uri AuthorityHost => BaseUrl;

    /// <summary>Where validationTokens' signing keys are published.</summary>
    public Uri OpenIdConfigurationUrl => new(BaseUrl, "common/.well-known/openid-configuration");

    public static async Task<GraphSimulator> StartAsync(GraphSimulatorOptions? options = null)
    {
        options ??= new GraphSimulatorOptions();
        if (!IPAddress.TryParse(options.Host, out var address) || !IPAddress.IsLoopback(address))
            throw new ArgumentException($"The Graph simulator only listens on loopback, not '{options.Host}'.", nameof(options));

        var certificate = SimulatorCertificate.Create("PresenceActors Graph simulator");
        var tenant = new SimTenant(options.Clock);
        var faults = new SimFaults(options.Clock) { RateLimitsEnabled = options.RateLimits };
        var signingKey = RSA.Create(2048);
        var signer = new SimJwt(signingKey, $"sim-{Guid.NewGuid():N}"[..20]);
        var delivery = new NotificationDelivery(tenant, signer, options.Clock);
        tenant.PresenceChanged += delivery.Publish;

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("PRESENCE_SIMULATOR_LOGS") == "1")
            builder.Logging.AddConsole();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, options.Port, listen => listen.UseHttps(certificate)));
        var app = builder.Build();

        var ticker = options.Clock.CreateTimer(_ => tenant.Tick(), null, options.TickInterval, options.TickInterval);
        var sim = new GraphSimulator(app, tenant, faults, certificate, signer, delivery, ticker);
        app.UseRouting();
        app.Use(sim.FaultsAndCallLog);
        EntraEndpoints.Map(app, sim);
        GraphEndpoints.Map(app, sim);
        GraphControlEndpoints.Map(app, sim);

        await app.StartAsync();
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        sim.BaseUrl = new Uri(new Uri(bound).GetLeftPart(UriPartial.Authority).Replace("localhost", "127.0.0.1") + "/");
        return sim;
    }

    /// <summary>An HTTP handler that trusts this simulator's certificate, for the SDKs' transports.</summary>
    public HttpClientHandler CreateTrustingHandler() => SimulatorCertificate.TrustingHandler(Certificate);

    /// <summary>A demo tenant: the application, technical users and ordinary users (sandbox and the standalone simulator).</summary>
    public DemoTenant SeedDemo(int users = 20, int technicalUsers = 2, string? clientId = null, string? secret = null)
    {
        var demo = new DemoTenant(
            Tenant.TenantId,
            clientId ?? "5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30",
            secret ?? $"sim~{Convert.ToBase64String(RandomNumberGenerator.GetBytes(18))}",
            [], []);
        Tenant.AddApplication(demo.ClientId, demo.ClientSecret);
        for (var i = 1; i <= technicalUsers; i++)
        {
            var password = $"Tech-{Convert.ToHexString(RandomNumberGenerator.GetBytes(6))}";
            var user = Tenant.AddUser($"presence-tech{i}@{Tenant.Domain}", $"Presence technical user {i}", password: password, technical: true);
            demo.TechnicalUsers.Add((user.UserPrincipalName, password));
        }

        var names = new[] { "alex", "blair", "casey", "dana", "eli", "frankie", "gale", "harper", "indy", "jules", "kim", "lee", "morgan", "noa", "oakley", "parker", "quinn", "riley", "sam", "taylor" };
        for (var i = 0; i < users; i++)
        {
            var name = i < names.Length ? names[i] : $"user{i + 1:D5}";
            var user = Tenant.AddUser($"{name}@{Tenant.Domain}", char.ToUpperInvariant(name[0]) + name[1..]);
            demo.Users.Add(user.UserPrincipalName);
        }

        return demo;
    }

    private async Task FaultsAndCallLog(HttpContext context, RequestDelegate next)
    {
        var api = context.GetEndpoint()?.Metadata.GetMetadata<SimApi>()?.Name ?? "unknown";
        if (api.StartsWith("sim.", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var caller = await CallerForLog(context, api);
        var at = Tenant.Clock.GetUtcNow();
        double? retryAfter = null;
        // Logged as the response starts, so that a client that has its answer always finds the call in the log.
        context.Response.OnStarting(() =>
        {
            var requestId = context.Request.Headers["client-request-id"].ToString();
            Faults.Log(new SimCall(at, context.Request.Method, context.Request.Path, api, caller, context.Response.StatusCode, retryAfter,
                requestId.Length > 0 ? requestId : null));
            return Task.CompletedTask;
        });
        var fault = Faults.Take(api);
        var (directory, cost) = (false, 1);
        if (fault is { LatencyMs: > 0 })
            await Task.Delay(fault.LatencyMs, context.RequestAborted);
        if (fault is { Status: >= 400 })
        {
            retryAfter = fault.RetryAfterSeconds;
            await WriteRefusal(context, fault.Status, retryAfter, "Injected failure.");
        }
        else if (api != "token" && api != "userrealm" && Throttled(context, api, out directory, out cost) is { } wait)
        {
            retryAfter = Math.Max(1, Math.Ceiling(wait.TotalSeconds));
            if (directory)
            {
                // As Graph's directory says which limit it was: this application in this tenant, its resource units.
                var app = GraphEndpoints.Authenticate(this, context)?.AppId ?? "anonymous";
                context.Response.Headers["x-ms-throttle-scope"] = $"Tenant_Application/ReadWrite/{app}/{Tenant.TenantId}";
                context.Response.Headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded";
            }

            await WriteRefusal(context, 429, retryAfter, "Too many requests: the application exceeded Graph's rate limit.");
        }
        else
        {
            if (directory)
                context.Response.Headers["x-ms-resource-unit"] = cost.ToString(System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                await next(context);
            }
            catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
            {
                // Past the endpoints' own error mapping: still answer like Graph, naming what broke.
                await GraphEndpoints.Error(500, "generalException", $"Simulator fault: {e.GetType().Name}: {e.Message}").ExecuteAsync(context);
            }
        }
    }

    /// <summary>The rate limit's verdict on this call; directory reads cost resource units under the tenant's directory limit.</summary>
    private TimeSpan? Throttled(HttpContext context, string api, out bool directory, out int cost)
    {
        directory = api.StartsWith("users.", StringComparison.Ordinal);
        cost = directory ? GraphEndpoints.ResourceUnits(api, context.Request.Query) : 1;
        var app = GraphEndpoints.Authenticate(this, context)?.AppId ?? "anonymous";
        return Faults.Throttle(app, api, cost, directory ? SimFaults.DirectoryLimit(Tenant.UserCount) : null);
    }

    private static async Task WriteRefusal(HttpContext context, int status, double? retryAfter, string message)
    {
        if (retryAfter is { } seconds)
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(seconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var code = status == 429 ? "TooManyRequests" : status >= 500 ? "ServiceUnavailable" : "BadRequest";
        await GraphEndpoints.Error(status, code, message).ExecuteAsync(context);
    }

    private async Task<string> CallerForLog(HttpContext context, string api)
    {
        if (api == "token" && context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync();
            return form["grant_type"] == "password" ? $"user:{form["username"]}" : $"app:{form["client_id"]}";
        }

        return GraphEndpoints.Authenticate(this, context)?.ToString() ?? "anonymous";
    }

    public async ValueTask DisposeAsync()
    {
        await _ticker.DisposeAsync();
        await _app.StopAsync();
        if (_self.IsValueCreated)
            _self.Value.Dispose();
        await _app.DisposeAsync();
        await Delivery.DisposeAsync();
    }
}

/// <summary>What a demo tenant was seeded with; printed by the standalone simulator and the sandbox.</summary>
public sealed record DemoTenant(string TenantId, string ClientId, string ClientSecret, List<(string Username, string Password)> TechnicalUsers, List<string> Users);
