using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using PresenceActors.Users;
using static PresenceActors.Mapping.MappingCommands;

namespace PresenceActors.Mapping;

/// <summary>
/// One per node: keeps <see cref="PresenceRulesSource"/> on the cluster's newest mapping and has this node's users in
/// memory judged by it at once (docs/mapping.md, "When the table changes"). Users not in memory are judged by it when they
/// next start (their recovery re-evaluates). Also answers previews for this node's users.
/// </summary>
public sealed class MappingFollower : ReceiveActor, IWithTimers
{
    /// <summary>How often the follower asks the singleton, in case a publication did not reach it.</summary>
    public static readonly TimeSpan AskEvery = TimeSpan.FromSeconds(5);

    /// <summary>A preview lists this many of a node's changing users (and counts them all).</summary>
    public const int PreviewListed = 200;

    /// <summary>How long a preview waits for one user's state.</summary>
    public static readonly TimeSpan PreviewAskTimeout = TimeSpan.FromSeconds(5);

    private readonly PresenceRulesSource _rules;
    private readonly IActorRef _mapping;
    private readonly IActorRef _users;
    private readonly TimeProvider _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private sealed class AskMapping
    {
        public static readonly AskMapping Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public MappingFollower(PresenceRulesSource rules, IActorRef mapping, IActorRef users, TimeProvider clock)
    {
        _rules = rules;
        _mapping = mapping;
        _users = users;
        _clock = clock;

        Receive<AskMapping>(_ => _mapping.Tell(new GetMapping(), Self));
        Receive<CurrentMapping>(c => Adopt(c.Mapping));
        Receive<PreviewMapping>(p => PreviewAsync(p.Proposed).PipeTo(Sender));
        Receive<SubscribeAck>(_ => { });
    }

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(PresenceMappingActor.Topic, Self));
        Self.Tell(AskMapping.Instance);
        Timers.StartPeriodicTimer("ask-mapping", AskMapping.Instance, AskEvery);
    }

    private void Adopt(PresenceMapping mapping)
    {
        if (!_rules.Adopt(mapping))
            return;
        var version = mapping.Version;
        var users = _users;
        var log = _log;
        LocalUsersAsync().ContinueWith(t =>
        {
            if (!t.IsCompletedSuccessfully)
            {
                log.Warning("mapping version {0} in force; this node's users in memory could not be listed ({1}): each is judged by it at its next input",
                    version, t.Exception?.GetBaseException().Message);
                return;
            }

            foreach (var id in t.Result)
                users.Tell(new UserPresenceCommands.ApplyRules(id, version));
            log.Info("mapping version {0} in force; {1} users in memory on this node judged by it", version, t.Result.Count);
        }, TaskScheduler.Default);
    }

    private async Task<IReadOnlyList<string>> LocalUsersAsync()
    {
        var state = await _users.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(10));
        return [.. state.Shards.SelectMany(s => s.EntityIds)];
    }

    /// <summary>
    /// Which of this node's users in memory <paramref name="proposed"/> would change: each one's state is judged by it the
    /// way a saved edit would be (the same pure rules), and the writes that would follow are listed. Nothing is changed.
    /// </summary>
    private async Task<PreviewResult> PreviewAsync(PresenceMapping proposed)
    {
        var table = proposed with { Version = _rules.Cluster.Version + 1 };
        var ids = await LocalUsersAsync();
        var now = _clock.GetUtcNow();
        var changes = ImmutableArray.CreateBuilder<PreviewChange>();
        var examined = 0;
        var changing = 0;
        foreach (var chunk in ids.Chunk(200))
        {
            var views = await Task.WhenAll(chunk.Select(async id =>
            {
                try
                {
                    return await _users.Ask<UserPresenceQueries.UserPresenceView>(new UserPresenceQueries.GetUserPresence(id), PreviewAskTimeout);
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    return null;
                }
            }));
            foreach (var view in views.OfType<UserPresenceQueries.UserPresenceView>())
            {
                examined++;
                var decision = view.State.Handle(new PresenceRulesChanged(table) { At = now }, _rules.Settings);
                var writes = decision.Effects.Select(Describe).OfType<string>().ToImmutableArray();
                if (!writes.IsEmpty && ++changing <= PreviewListed)
                    changes.Add(new PreviewChange(view.UserId, view.State.UcUserId, view.State.Teams?.ToString() ?? "unknown", view.State.UcCurrent?.Value, writes));
            }
        }

        return new PreviewResult(examined, changing, changes.ToImmutable());
    }

    private static string? Describe(PresenceEffect effect) => effect switch
    {
        SendUcUpdate send => $"UC {send.Update.Status}",
        SetTeamsSession set => $"Teams {set.Shown}",
        ClearTeamsSession => "Teams session cleared",
        _ => null,
    };
}
