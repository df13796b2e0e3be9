using System.Text.Json.Serialization;

namespace PresenceActors.Users;

/// <summary>
/// Everything that can happen to one user's presence. Inputs that change the state are what the actor journals:
/// replaying them through <see cref="UserPresenceState.Handle"/> rebuilds the state, because time is part of the input.
/// These records are a persisted contract: see <see cref="PresenceSerializer"/> for their stable manifests.
/// </summary>
public abstract record PresenceInput
{
    /// <summary>When the service received the input (the rules' clock).</summary>
    public required DateTimeOffset At { get; init; }
}

public enum TeamsPresenceSource
{
    /// <summary>A change notification: may be late, duplicated, out of order or our own echo.</summary>
    Notification,

    /// <summary>A read of the current aggregated presence (GET or getPresencesByUserId): authoritative for its moment.</summary>
    Read,

    /// <summary>
    /// A bulk read by the subscription pool (a new subscription's members, a resync): as good as a notification, not
    /// fresher. Issued while our session held, it can arrive after our clearPresence, so unlike the user's own
    /// <see cref="Read"/> it is never what tells a real call from our echo (E1).
    /// </summary>
    BulkRead,
}

/// <summary>The UC back end registered (or re-registered) this Teams user under a UC user id.</summary>
public sealed record UserLinked(string UcUserId) : PresenceInput;

/// <summary>The UC back end removed the user: calls are wound down and our session cleared.</summary>
public sealed record UserUnlinked : PresenceInput;

public sealed record TeamsPresenceObserved(
    string Availability,
    string Activity,
    string? SequenceNumber,
    TeamsPresenceSource Source) : PresenceInput;

/// <param name="ReportedAt">The UC back end's own time of the change; orders reports that arrive out of order.</param>
public sealed record UcPresenceReported(string Status, bool OnPhone, DateTimeOffset ReportedAt) : PresenceInput;

/// <summary>The per-user timer fired (keep-alive, retry).</summary>
public sealed record TimerFired : PresenceInput;

public sealed record UcUpdateAcknowledged(long Sequence) : PresenceInput;

public sealed record UcUpdateFailed(long Sequence, string Reason) : PresenceInput;

/// <param name="Application">The application (client id) whose session it is; null: the first (docs/graph-budget.md).</param>
public sealed record TeamsSessionSet(long Operation, DateTimeOffset ExpiresAt, string? Application = null) : PresenceInput;

/// <param name="Application">The application it was sent with: it may have reached Graph, so its clear goes there.</param>
public sealed record TeamsSessionSetFailed(long Operation, string Reason, string? Application = null) : PresenceInput;

/// <summary>The setPresence was withdrawn before it went out (the UC call ended while it waited for Graph's budget).</summary>
public sealed record TeamsSessionSetWithdrawn(long Operation) : PresenceInput;

/// <param name="WasAlreadyGone">Graph answered 404: the session had already gone, which counts as success.</param>
public sealed record TeamsSessionCleared(long Operation, bool WasAlreadyGone) : PresenceInput;

public sealed record TeamsSessionClearFailed(long Operation, string Reason) : PresenceInput;

/// <summary>
/// The cluster's table (docs/mapping.md) reached the user: their state keeps it and is judged by it. It carries the whole
/// table so that the journal replays under the table each input was judged by.
/// </summary>
public sealed record PresenceRulesChanged(PresenceMapping Mapping) : PresenceInput;

/// <summary>The actor recovered from its journal: whatever was in flight is done again.</summary>
public sealed record Resumed : PresenceInput;
