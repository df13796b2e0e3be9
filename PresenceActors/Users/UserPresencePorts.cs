using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Where UC updates leave the service (the UC front ends, DESIGN 3.3). Completes when a front end acknowledged.</summary>
public interface IUcFrontEndPort
{
    Task DeliverAsync(UcUpdate update, CancellationToken cancellationToken);
}

/// <summary>Our Teams presence session for a user, through Graph (U1, U2), and reads of the aggregated presence.</summary>
public interface ITeamsPresencePort
{
    /// <summary>setPresence with our session id: Busy/InACall by default, or what the mapping says (docs/mapping.md).</summary>
    Task SetCallPresenceAsync(string userId, TeamsShown shown, TimeSpan expiration, CancellationToken cancellationToken);

    /// <summary>clearPresence with our session id; true when Graph answered 404 (the session was already gone).</summary>
    Task<bool> ClearCallPresenceAsync(string userId, CancellationToken cancellationToken);

    Task<TeamsPresence> ReadPresenceAsync(string userId, CancellationToken cancellationToken);
}
