using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using PresenceActors.Host.Admin;

namespace PresenceActors.Host;

/// <summary>The bound ports of a running node (the configured ones, or those picked for port 0).</summary>
public sealed class ListenerPorts
{
    public int Webhook { get; internal set; }

    public int InternalApi { get; internal set; }

    public int Admin { get; internal set; }

    /// <summary>The listeners Kestrel was given, by role, until the server started and their ports are known.</summary>
    internal List<(string Role, ListenOptions Listen)> Configured { get; } = [];
}

/// <summary>
/// The node's three listeners (docs/design.md, 3.5): the public webhook, the internal API and the admin surface, each
/// answering only its own paths.
/// </summary>
public static class Listeners
{
    public static WebApplicationBuilder AddPresenceListeners(this WebApplicationBuilder builder, PresenceServiceOptions options)
    {
        var ports = new ListenerPorts();
        builder.Services.AddSingleton(ports);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, "webhook", options.Webhook, options.TlsVersions, ports);
            Listen(kestrel, "internal-api", options.InternalApi, options.TlsVersions, ports, clientCertificates: options.InternalApiClientCertificates.Count > 0);
            Listen(kestrel, "admin", options.Admin, options.TlsVersions, ports);
        });
        return builder;
    }

    /// <summary>Records the bound ports once the server started, and keeps each surface on its own listener.</summary>
    public static WebApplication UsePresenceListeners(this WebApplication app)
    {
        var ports = app.Services.GetRequiredService<ListenerPorts>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var (role, listen) in ports.Configured)
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

        // Each surface answers only on its own listener: Graph never reaches the internal API, nor the UC back end the admin.
        app.Use(async (context, next) =>
        {
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
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, string role, ListenerOptions options, System.Security.Authentication.SslProtocols tls,
        ListenerPorts ports, bool clientCertificates = false)
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

            ports.Configured.Add((role, listen));
        });
    }
}
