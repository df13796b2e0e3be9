using Akka.Actor;
using Akka.Cluster;

namespace PresenceActors.Graph;

/// <summary>
/// Keeps each application's governor's share at the budget over the cluster's Up members (docs/graph-budget.md, "Shares"): a member
/// that joins takes part of the others' shares, one that leaves or is downed gives its part back. The members are kept
/// from the events themselves (the cluster's own state may not show an event yet when it arrives).
/// </summary>
public sealed class BudgetShareListener : ReceiveActor
{
    private readonly HashSet<UniqueAddress> _up = [];

    public BudgetShareListener(GraphGateway gateway)
    {
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            _up.Clear();
            _up.UnionWith(state.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.UniqueAddress));
            gateway.SetNodes(_up.Count);
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            if (e.Member.Status == MemberStatus.Up)
                _up.Add(e.Member.UniqueAddress);
            else
                _up.Remove(e.Member.UniqueAddress);
            gateway.SetNodes(_up.Count);
        });
    }

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
}
