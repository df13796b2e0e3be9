using Akka.Cluster;

namespace PresenceActors.Cluster;

/// <summary>
/// What the nodes of this release understand that nodes of earlier releases do not, advertised as cluster roles. A new
/// message is sent, and a new journal event written, only once every member understands it, so that a rolling upgrade
/// (old and new nodes side by side, a singleton moving back to an old node) never meets a message or an event an old
/// node cannot read (docs/decisions.md, "A read model, and rolling upgrades").
/// </summary>
public static class Capabilities
{
    /// <summary>The registry's bulk messages (RegisterMany, UnregisterMany) and its batched events (UsersRegistered, UsersUnregistered).</summary>
    public const string RegistryBatches = "registry-batches-1";

    /// <summary>Every capability of this release (a node's roles).</summary>
    public static readonly IReadOnlyList<string> All = [RegistryBatches];

    /// <summary>True when every member of the cluster, this one included, has <paramref name="capability"/>.</summary>
    public static bool EveryMember(Akka.Actor.ActorSystem system, string capability)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        return cluster.SelfMember.HasRole(capability)
               && cluster.State.Members.Where(m => m.Status is not (MemberStatus.Removed or MemberStatus.Down)).All(m => m.HasRole(capability));
    }
}
