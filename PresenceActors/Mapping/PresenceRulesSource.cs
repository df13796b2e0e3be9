using PresenceActors.Users;

namespace PresenceActors.Mapping;

/// <summary>
/// The rules this node's user actors run with: the configured settings and the cluster's newest mapping
/// (docs/mapping.md, "When the table changes"). One per node, shared by its user actors and its mapping follower.
/// </summary>
public sealed class PresenceRulesSource(PresenceSettings configured)
{
    private readonly object _gate = new();
    private readonly PresenceSettings _configured = configured;
    private volatile PresenceSettings _current = configured;

    public PresenceSettings Current => _current;

    /// <summary>The mapping from configuration (version 0), in force until the cluster's first saved edit.</summary>
    public PresenceMapping Configured => _configured.Mapping;

    /// <summary>
    /// Takes the cluster's mapping when it is newer than the one in force, or the cluster's version 0 when it differs from
    /// this node's configured one (nodes configured differently follow the singleton's); false when nothing changed.
    /// </summary>
    public bool Adopt(PresenceMapping mapping)
    {
        lock (_gate)
        {
            var current = _current.Mapping;
            if (mapping.Version < current.Version || (mapping.Version == current.Version && mapping.SameRulesAs(current)))
                return false;
            _current = _configured with { Mapping = mapping };
            return true;
        }
    }
}
