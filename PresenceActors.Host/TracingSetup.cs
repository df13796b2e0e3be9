using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace PresenceActors.Host;

/// <summary>
/// OpenTelemetry tracing of a change across the webhook or internal API, the user's actor and the call to a UC front end
/// or Graph (docs/operator-guide.md, "Traces"). On when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> names a collector, the
/// standard OTLP variable; off otherwise, so that no span is made for nobody.
/// </summary>
public static class TracingSetup
{
    public static bool OtlpConfigured => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));

    /// <summary>Our spans and the HTTP hops around them: requests to the webhook and the internal API, calls out.</summary>
    public static TracerProviderBuilder Instrument(TracerProviderBuilder tracing) => tracing
        .ConfigureResource(resource => resource.AddService("presenceactors"))
        .AddSource(PresenceTracing.SourceName)
        .AddAspNetCoreInstrumentation(aspNet => aspNet.Filter = context =>
            context.Request.Path.StartsWithSegments("/graph") || context.Request.Path.StartsWithSegments("/api"))
        .AddHttpClientInstrumentation();
}
