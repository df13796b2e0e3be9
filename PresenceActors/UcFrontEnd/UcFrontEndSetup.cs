using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Users;

namespace PresenceActors.UcFrontEnd;

public static class UcFrontEndSetup
{
    /// <summary>The named HttpClient the emitter posts with.</summary>
    public const string HttpClientName = "uc-front-ends";

    /// <summary>
    /// The UC front ends (docs/design.md, 3.3): one emitter, the users' actors' UC port. Its client comes from the
    /// HttpClient factory (pinned TLS, the request timeout; the factory's per-request log lines are off: one update is
    /// one request). Retries are the emitter's own (docs/architecture.md, "Where retries live"), so the client has none.
    /// </summary>
    public static IServiceCollection AddUcFrontEnds(this IServiceCollection services, UcFrontEndOptions options)
    {
        services.AddHttpClient(HttpClientName, http => http.Timeout = options.RequestTimeout)
            .ConfigurePrimaryHttpMessageHandler(() => PinnedTls.Handler(options.TrustedCertificates, options.RequestTimeout))
            .RemoveAllLoggers();
        services.AddSingleton(sp => new UcFrontEndEmitter(options, sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            sp.GetRequiredService<ILogger<UcFrontEndEmitter>>(), sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<IUcFrontEndPort>(sp => sp.GetRequiredService<UcFrontEndEmitter>());
        return services;
    }
}
