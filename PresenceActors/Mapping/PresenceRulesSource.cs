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

    /// <summary>Takes a newer mapping; false when it is not newer than the one in force.</summary>
    public bool Adopt(PresenceMapping mapping)
    {
        lock (_gate)
        {
            if (mapping.Version <= _current.Mapping.Version)
                return false;
            _current = _configured with { Mapping = mapping };
            return true;
        }
    }
}
