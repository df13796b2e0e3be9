using Akka.Actor;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace PresenceActors.Host;

/// <summary>What an operator reads of a node: its logs, metrics, traces, health checks and the answer to a failed request.</summary>
public static class Observability
{
    public static WebApplicationBuilder AddPresenceObservability(this WebApplicationBuilder builder, PresenceServiceOptions options)
    {
        if (options.JsonLogs)
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole();
        }

        // JSON lines carry their time (presence.logging.json, or Logging:Console:FormatterName=json).
        builder.Services.Configure<JsonConsoleFormatterOptions>(json =>
        {
            json.UseUtcTimestamp = true;
            json.TimestampFormat ??= "yyyy-MM-ddTHH:mm:ss.fffZ";
        });

        var telemetry = builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(PresenceMetrics.MeterName)
            .AddPrometheusExporter());
        if (TracingSetup.OtlpConfigured)
            telemetry.WithTracing(tracing => TracingSetup.Instrument(tracing).AddOtlpExporter());
        // Every problem answer (HttpProblem, the failure handler) is written by ASP.NET Core's problem-details service,
        // which adds the request's trace id: what an operator looks up in the logs and traces of the node that answered.
        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
            context.ProblemDetails.Extensions.TryAdd("traceId", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier));
        builder.Services.AddHealthChecks()
            .AddCheck<TechnicalAccountsHealthCheck>("technical-accounts", tags: ["ready"])
            .AddCheck<UserRegistryHealthCheck>("user-registry", tags: ["ready"])
            .AddCheck("journal-database", new JournalDatabaseHealthCheck(options.Node.Persistence), tags: ["ready"])
            .AddCheck<EncryptionCertificatesHealthCheck>("encryption-certificates", tags: ["ready"])
            .AddCheck<ClusterQuorumHealthCheck>("cluster-quorum", tags: ["ready"]);
        return builder;
    }

    /// <summary>The configuration's warnings, logged once the node runs.</summary>
    public static WebApplication LogConfigurationWarnings(this WebApplication app, PresenceServiceOptions options)
    {
        var startup = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PresenceActors.Host.Configuration");
        foreach (var warning in options.Warnings)
            startup.LogWarning("configuration-warning {Warning}", warning);
        return app;
    }

    /// <summary>A failure nobody handled: logged with its stack trace, answered as a problem without one.</summary>
    public static WebApplication UsePresenceErrors(this WebApplication app)
    {
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
        return app;
    }
}
