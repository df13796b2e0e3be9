using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace PresenceActors.Users;

/// <summary>Registry key of the user shard region (or its proxy).</summary>
public sealed class UserPresenceRegion;

/// <summary>Routes every <see cref="IWithUserId"/> message to its user's entity (StartEntity is handled by the base class).</summary>
public sealed class UserMessageExtractor(int maxShards) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IWithUserId)?.UserId;
}

public static class UserPresenceSetup
{
    public const string RegionName = "user-presence";

    public static AkkaConfigurationBuilder WithPresenceSerializer(this AkkaConfigurationBuilder builder) =>
        builder.WithCustomSerializer("presence-json", PresenceSerializer.BoundTypes, system => new PresenceSerializer(system));

    /// <summary>
    /// One persistent actor per user, sharded and remembered: users holding a call or our session are restarted on
    /// whichever node takes their shard after a crash, so their keep-alive and final clear still happen.
    /// </summary>
    public static AkkaConfigurationBuilder WithUserPresence(
        this AkkaConfigurationBuilder builder, IServiceProvider services, UserPresenceOptions options, (string Journal, string Snapshot)? shardingPlugins = null)
    {
        var problems = options.Rules.Validate();
        if (problems.Count > 0)
            throw new ArgumentException(string.Join(Environment.NewLine, problems), nameof(options));

        var frontEnd = services.GetRequiredService<IUcFrontEndPort>();
        var teams = services.GetRequiredService<ITeamsPresencePort>();
        var clock = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var rules = services.GetRequiredService<Mapping.PresenceRulesSource>();
        var inFlight = services.GetRequiredService<WorkInFlight>();

        return builder
            .WithPresenceSerializer()
            .WithActors((system, _) => inFlight.Start(system))
            .WithShardRegion<UserPresenceRegion>(
                RegionName,
                userId => Props.Create(() => new UserPresenceActor(userId, options, rules, frontEnd, teams, clock, inFlight)),
                new UserMessageExtractor(options.MaxShards),
                new ShardOptions
                {
                    RememberEntities = true,
                    RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
                    StateStoreMode = StateStoreMode.DData,
                    HandOffStopMessage = StopUserActor.Instance,
                    JournalPluginId = shardingPlugins?.Journal,
                    SnapshotPluginId = shardingPlugins?.Snapshot,
                });
    }
}
