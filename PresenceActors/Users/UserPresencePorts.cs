using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Where UC updates leave the service (the UC front ends, docs/design.md, 3.3). Completes when a front end acknowledged.</summary>
public interface IUcFrontEndPort
{
    Task DeliverAsync(UcUpdate update, CancellationToken cancellationToken);
}

/// <summary>One setPresence of our session.</summary>
/// <param name="KeepAlive">The session holds already: this only keeps it (it may wait behind new calls).</param>
/// <param name="ExpiresAt">When the session lapses unless this goes out: a keep-alive close to it goes before new calls.</param>
public sealed record TeamsSessionRequest(TeamsShown Shown, TimeSpan Expiration, bool KeepAlive, DateTimeOffset? ExpiresAt = null)
{
    /// <summary>Fires when the call is no longer wanted (the UC call ended): honoured only until it is sent.</summary>
    public CancellationToken Withdrawn { get; init; }

    /// <summary>The application (client id) whose session this sets; null: the first application (docs/graph-budget.md).</summary>
    public string? Application { get; init; }
}

/// <summary>A presence call withdrawn before it was sent: Graph never saw it.</summary>
public sealed class PresenceCallWithdrawnException() : Exception("withdrawn before it was sent");

/// <summary>Our Teams presence session for a user, through Graph (U1, U2), and reads of the aggregated presence.</summary>
public interface ITeamsPresencePort
{
    /// <summary>
    /// setPresence with our session id: Busy/InACall by default, or what the mapping says (docs/mapping.md). Returns the
    /// expirationDuration sent (longer than asked while Graph's budget is tight, docs/graph-budget.md). Throws
    /// <see cref="PresenceCallWithdrawnException"/> when <see cref="TeamsSessionRequest.Withdrawn"/> fired before it was sent.
    /// </summary>
    Task<TimeSpan> SetCallPresenceAsync(string userId, TeamsSessionRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// clearPresence of the session the application (client id; null: the first; <see cref="TeamsSession.AnyApplication"/>:
    /// every application) holds; true when Graph answered 404 (the session was already gone).
    /// </summary>
    Task<bool> ClearCallPresenceAsync(string userId, string? application, CancellationToken cancellationToken);

    /// <summary>
    /// The application a new session of this user is set with: users are spread over the configured applications, each
    /// with its own presence budget (docs/graph-budget.md, "Several applications").
    /// </summary>
    string ApplicationFor(string userId);

    Task<TeamsPresence> ReadPresenceAsync(string userId, CancellationToken cancellationToken);
}
