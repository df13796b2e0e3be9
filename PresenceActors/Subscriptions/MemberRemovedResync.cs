using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace PresenceActors.Subscriptions;

/// <summary>
/// On every node: when a member leaves the cluster for good (downed after a crash, or left), asks the subscription pool
/// for a full presence read once the dead node's shards have moved. Notifications and reports that were on their way to
/// actors on the dead node are lost with it; the read gives every user's actor the presence Teams shows now, so a call
/// that started or ended in that window is still mirrored. Several nodes asking at once cost one read (the pool
/// coalesces full reads).
/// </summary>
public sealed class MemberRemovedResync : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public MemberRemovedResync(IActorRef pool, TimeSpan settle)
    {
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.Address == Akka.Cluster.Cluster.Get(Context.System).SelfAddress)
                return;
            _log.Warning("member-removed {0} (was {1}): reading every user's presence in {2}", removed.Member.Address, removed.PreviousStatus, settle);
            Timers.StartSingleTimer("resync", ResyncNow.Instance, settle);
        });
        Receive<ResyncNow>(_ => pool.Tell(new SubscriptionPoolCommands.Resync([])));
        Receive<SubscriptionPoolCommands.CommandResult>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private sealed class ResyncNow
    {
        public static readonly ResyncNow Instance = new();
    }
}
