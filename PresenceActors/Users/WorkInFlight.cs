using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;

namespace PresenceActors.Users;

/// <summary>
/// The users whose actors hold work (a call, our session, an update not yet acknowledged: <see cref="UserPresenceState.HoldsWork"/>),
/// as a replicated set every node keeps a copy of (docs/scale.md, "Lazy user actors"). A bulk presence read reaches an
/// idle user only when it may matter to them, so it starts no actor for nothing; the users listed here it always reaches,
/// since a notification of theirs that was missed (a call's end) is what the read repairs. Small: the users busy now.
/// </summary>
/// <remarks>
/// Each actor adds or removes itself when it starts or stops holding work (written locally, gossiped to the other nodes
/// within a fraction of a second). The set is in memory: after a restart of the whole cluster, the users holding work
/// are the ones sharding restarts (remembered entities), and they add themselves again as they recover.
/// </remarks>
public sealed class WorkInFlight
{
    private static readonly ORSetKey<string> Key = new("users-with-work-in-flight");

    private volatile IImmutableSet<string> _users = ImmutableHashSet<string>.Empty;
    private IActorRef? _replicator;
    private IActorRef? _follower;
    private UniqueAddress? _self;

    /// <summary>How many users hold work, as this node last heard.</summary>
    public int Count => _users.Count;

    public bool Contains(string userId) => _users.Contains(userId);

    /// <summary>Joins the cluster's set: this node's copy follows it from now on (called once the actor system runs).</summary>
    public void Start(ActorSystem system)
    {
        _self = Akka.Cluster.Cluster.Get(system).SelfUniqueAddress;
        _replicator = DistributedData.Get(system).Replicator;
        _follower = system.ActorOf(Props.Create(() => new Follower(this)), "work-in-flight");
        _replicator.Tell(Dsl.Subscribe(Key, _follower));
    }

    /// <summary>The user does (or no longer does) hold work. Not started (a node without a cluster): nothing.</summary>
    public void Mark(string userId, bool holdsWork)
    {
        if (_replicator is null || _self is null)
            return;
        var self = _self;
        _replicator.Tell(Dsl.Update(Key, ORSet<string>.Empty, WriteLocal.Instance,
            set => holdsWork ? set.Add(self, userId) : set.Remove(self, userId)), _follower);
    }

    /// <summary>Keeps this node's copy; the replicator's answers to updates come here too.</summary>
    private sealed class Follower : ReceiveActor
    {
        public Follower(WorkInFlight index)
        {
            Receive<Changed>(c => index._users = c.Get(Key).Elements);
            Receive<IUpdateResponse>(_ => { }); // failures too: the next change of the user writes again
        }
    }
}
