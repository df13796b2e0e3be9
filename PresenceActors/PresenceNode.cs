using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Cluster;
using PresenceActors.Mapping;
using PresenceActors.Persistence;
using PresenceActors.Users;

namespace PresenceActors;

/// <summary>Everything one Facade node runs in its actor system.</summary>
public sealed record PresenceNodeOptions
{
    public PresenceClusterOptions Cluster { get; init; } = new();

    public PresencePersistenceOptions Persistence { get; init; } = new();

    public UserPresenceOptions Users { get; init; } = new();
}

public static class PresenceNode
{
    /// <summary>
    /// Adds the node's actor system. The ports (<see cref="IUcFrontEndPort"/>, <see cref="ITeamsPresencePort"/>) must be
    /// registered by the caller: the Host wires the real ones, tests their doubles.
    /// </summary>
    public static IServiceCollection AddPresenceNode(
        this IServiceCollection services, PresenceNodeOptions options, Action<AkkaConfigurationBuilder, IServiceProvider>? more = null) =>
        services.AddSingleton(new Mapping.PresenceRulesSource(options.Users.Rules)).AddSingleton<WorkInFlight>().AddMetrics().AddSingleton<PresenceMetrics>()
            .AddSingleton(sp => new JournalTrim(options.Persistence, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<JournalTrim>>(),
                sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetService<TimeProvider>()))
            .AddHostedService(sp => sp.GetRequiredService<JournalTrim>())
            .AddAkka(PresenceClusterOptions.SystemName, (builder, provider) =>
        {
            var metrics = provider.GetRequiredService<PresenceMetrics>();
            builder
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLoggerFactory();
                })
                .WithPresenceCluster(options.Cluster)
                .WithPresencePersistence(options.Persistence)
                .WithUserPresence(provider, options.Users, PersistenceSetup.ShardingPlugins(options.Persistence))
                .WithPresenceMapping(provider)
                .WithActors((system, _) =>
                {
                    system.ActorOf(Props.Create(() => new DeadLetterCounter(metrics)), "dead-letter-counter");
                    // Once the bridge to Microsoft.Extensions.Logging is gone, Akka writes its last lines ("Remoting shut
                    // down") straight to standard output in its own format at the level in force: that broke JSON log
                    // lines and the sandbox's quiet console. Only warnings and errors from then on.
                    CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "quiet-final-logs", () =>
                    {
                        system.EventStream.SetLogLevel(Akka.Event.LogLevel.WarningLevel);
                        return Task.FromResult(Akka.Done.Instance);
                    });
                });
            more?.Invoke(builder, provider);
        });
}
