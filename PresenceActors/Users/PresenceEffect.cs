using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Something the rules ask the outside world to do. The actor performs it and feeds the outcome back as an input.</summary>
public abstract record PresenceEffect;

/// <summary>Send a UC status to the UC front end (docs/design.md, 3.3).</summary>
public sealed record SendUcUpdate(UcUpdate Update) : PresenceEffect;

/// <summary>setPresence with our session id (U1; Busy/InACall by default, see docs/mapping.md), or its keep-alive.</summary>
/// <param name="KeepAlive">Our session holds already (until <paramref name="ExpiresAt"/>): this keeps it.</param>
/// <param name="Application">The application holding the session; null with no session held: the user's application now.</param>
public sealed record SetTeamsSession(long Operation, TimeSpan Expiration, TeamsShown Shown, bool KeepAlive = false, DateTimeOffset? ExpiresAt = null,
    string? Application = null) : PresenceEffect;

/// <summary>The setPresence asked for is no longer wanted: withdraw it if it has not gone out yet (docs/graph-budget.md).</summary>
public sealed record WithdrawTeamsSession(long Operation) : PresenceEffect;

/// <summary>clearPresence with our session id (U2), by the application holding it (null: the first). A 404 counts as success.</summary>
public sealed record ClearTeamsSession(long Operation, string? Application = null) : PresenceEffect;

/// <summary>Read the user's current Teams presence and feed it back as a <see cref="TeamsPresenceSource.Read"/> observation.</summary>
public sealed record ReadTeamsPresence : PresenceEffect;

/// <summary>(Re)arm the user's single timer; it fires a <see cref="TimerFired"/> input.</summary>
public sealed record ArmTimer(DateTimeOffset DueAt) : PresenceEffect;

public sealed record CancelTimer : PresenceEffect;

/// <summary>The UC front-end payload of docs/design.md, 3.3.</summary>
public sealed record UcUpdate(
    long Sequence,
    string UcUserId,
    string TeamsUserId,
    UcStatus Status,
    string Reason,
    DateTimeOffset OccurredAt)
{
    public const string TeamsCallStarted = "teams-call-started";
    public const string TeamsCallEnded = "teams-call-ended";
}
