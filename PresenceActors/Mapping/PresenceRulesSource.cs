using PresenceActors.Users;

namespace PresenceActors.Mapping;

/// <summary>
/// The rules this node's user actors run with (docs/mapping.md, "When the table changes"): the configured settings, by
/// which a user is judged until a cluster table reached them, and the cluster's table in force, which this node's
/// follower keeps current. One per node, shared by its user actors and its mapping follower.
/// </summary>
public sealed class PresenceRulesSource(PresenceSettings configured)
{
    private readonly object _gate = new();
    private volatile Prepared _cluster = Prepared.Of(configured.Mapping, configured.Mapping);
    private volatile bool _ready;

    /// <summary>The cluster's table with what every message asks of it worked out once (it is read on every input).</summary>
    private sealed record Prepared(PresenceMapping Table, bool IsConfigured, HashSet<string> On, HashSet<string> Off)
    {
        public static Prepared Of(PresenceMapping table, PresenceMapping configured) => new(
            table, table.Version == 0 && table.SameRulesAs(configured),
            new HashSet<string>(table.BusyOnBusyOn, StringComparer.OrdinalIgnoreCase), new HashSet<string>(table.BusyOnBusyOff, StringComparer.OrdinalIgnoreCase));

        public bool BusyOnBusyFor(string userId) => Table.BusyOnBusy ? !Off.Contains(userId) : On.Contains(userId);
    }

    /// <summary>The configured settings, their table (presence.callActivities) version 0: what the rules run with.</summary>
    public PresenceSettings Settings { get; } = configured;

    /// <summary>The mapping from configuration (version 0), in force until the cluster's first saved edit.</summary>
    public PresenceMapping Configured => Settings.Mapping;

    /// <summary>The cluster's table as this node last heard it (the configured one until then).</summary>
    public PresenceMapping Cluster => _cluster.Table;

    /// <summary>
    /// The node has heard the cluster's table: until then users are judged by the table their state keeps (or the
    /// configured one) and nothing new is handed to them.
    /// </summary>
    public bool Ready => _ready;

    /// <summary>
    /// Takes the singleton's table, whatever its version: the singleton is the authority (a journal it lost starts again
    /// at version 0). False when it is the one in force already.
    /// </summary>
    public bool Adopt(PresenceMapping mapping)
    {
        lock (_gate)
        {
            var wasReady = _ready;
            _ready = true;
            var current = _cluster.Table;
            if (mapping.Version == current.Version && mapping.SameRulesAs(current))
                return !wasReady;
            _cluster = Prepared.Of(mapping, Configured);
            return true;
        }
    }

    /// <summary>
    /// The table a user must be handed now, or null: not ready, or the user is judged by it already (a user without a
    /// table of their own is judged by the configured one, which needs no handing while the cluster's is the same).
    /// Cheap when nothing is to be handed: it runs before every input.
    /// </summary>
    public PresenceMapping? ToHand(UserPresenceState state)
    {
        if (!_ready)
            return null;
        var cluster = _cluster;
        var table = cluster.Table;
        if (state.Mapping is not { } mine)
            return cluster.IsConfigured ? null : table.ForUser(state.UserId);
        var same = mine.Version == table.Version && mine.BusyOnBusy == cluster.BusyOnBusyFor(state.UserId)
                   && mine.TeamsToUc.SequenceEqual(table.TeamsToUc) && mine.UcToTeams.SequenceEqual(table.UcToTeams);
        return same ? null : table.ForUser(state.UserId);
    }
}
