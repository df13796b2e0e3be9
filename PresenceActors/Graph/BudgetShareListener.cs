using Akka.Actor;
using Akka.Cluster;

namespace PresenceActors.Graph;

/// <summary>
/// Keeps the governor's share at the budget over the cluster's Up members (docs/graph-budget.md, "Shares"): a member
/// that joins takes part of the others' shares, one that leaves or is downed gives its part back.
/// </summary>
public sealed class BudgetShareListener : ReceiveActor
{
    public BudgetShareListener(PresenceCallGovernor governor)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        Receive<ClusterEvent.IMemberEvent>(_ => governor.SetNodes(UpMembers(cluster.State)));
        Receive<ClusterEvent.CurrentClusterState>(state => governor.SetNodes(UpMembers(state)));
    }

    private static int UpMembers(ClusterEvent.CurrentClusterState state) => state.Members.Count(m => m.Status == MemberStatus.Up);

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
}
