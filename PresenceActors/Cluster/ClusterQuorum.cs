using Akka.Actor;
using Akka.Cluster;

namespace PresenceActors.Cluster;

/// <summary>
/// Whether this node is on a side that holds more than half of the cluster's members (docs/decisions.md, "Partitions").
/// A node cut off with a minority stops feeding its users' actors (the ingress log's items wait, the UC back end's
/// reports are answered 503, /healthz/ready fails) once the others are marked unreachable, seconds before the
/// majority's split-brain resolver downs it and starts those users on the majority's side; its own downing decision
/// may come later than the majority's. Akka's unreachable set is the cluster's view as gossiped: on the minority it
/// holds the nodes this node cannot reach.
/// </summary>
public sealed class ClusterQuorum
{
    private Akka.Cluster.Cluster? _cluster;

    /// <summary>Reads membership from <paramref name="system"/>'s cluster from now on.</summary>
    public void Attach(ActorSystem system) => _cluster = Akka.Cluster.Cluster.Get(system);

    /// <summary>True when more than half of the members (not counting those already downed) are reachable; exactly half is not enough.</summary>
    public bool Held => _cluster is { } cluster && HeldIn(cluster);

    /// <summary>The same for actors, which reach their system's cluster themselves.</summary>
    public static bool HeldIn(Akka.Cluster.Cluster cluster)
    {
        var state = cluster.State;
        var counted = state.Members.Count(Counts);
        var unreachable = state.Unreachable.Count(Counts);
        return counted > 0 && (counted - unreachable) * 2 > counted;
    }

    private static bool Counts(Member member) => member.Status is not (MemberStatus.Down or MemberStatus.Removed);
}
