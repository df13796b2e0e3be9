using Akka.Actor;
using Akka.Cluster;

namespace PresenceActors.Cluster;

/// <summary>
/// Whether this node sees a majority of the cluster's members (docs/decisions.md, "Partitions"). A node cut off with a
/// minority stops feeding its users' actors (the ingress log's items wait, the UC back end's reports are answered 503)
/// the moment its failure detector marks the others unreachable, seconds before the majority's split-brain resolver
/// downs it and starts those users on the majority's side: so no user's actor takes input on both sides, even when the
/// minority, starved of CPU, is slow to down itself.
/// </summary>
public sealed class ClusterQuorum
{
    private Akka.Cluster.Cluster? _cluster;

    /// <summary>Reads membership from <paramref name="system"/>'s cluster from now on.</summary>
    public void Attach(ActorSystem system) => _cluster = Akka.Cluster.Cluster.Get(system);

    /// <summary>True when more than half of the members (not counting those already downed) are reachable from here.</summary>
    public bool Held
    {
        get
        {
            if (_cluster is not { } cluster)
                return false;
            var state = cluster.State;
            var counted = state.Members.Count(Counts);
            var unreachable = state.Unreachable.Count(Counts);
            return counted > 0 && (counted - unreachable) * 2 > counted;
        }
    }

    private static bool Counts(Member member) => member.Status is not (MemberStatus.Down or MemberStatus.Removed);
}
