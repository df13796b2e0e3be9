using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>One line of a user's recent history, for inspection: which rule fired and what it did.</summary>
public sealed record PresenceTransition(DateTimeOffset At, string Rule, string Detail);

public enum SessionOperationKind
{
    Set,
    Clear,
}

/// <summary>A setPresence or clearPresence that has been asked for and not yet answered.</summary>
/// <param name="Withdrawing">A set no longer wanted, asked to be withdrawn; its outcome is awaited all the same.</param>
public sealed record SessionOperation(long Id, SessionOperationKind Kind, DateTimeOffset IssuedAt, bool Withdrawing = false);

/// <summary>Our Graph presence session for this user, as far as the service knows it.</summary>
public sealed record TeamsSession
{
    /// <summary>Graph may hold our session until then; null when it certainly holds none.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the keep-alive setPresence is next due while a UC call lasts.</summary>
    public DateTimeOffset? RefreshDueAt { get; init; }

    public SessionOperation? InFlight { get; init; }

    /// <summary>
    /// The application (client id) whose session Graph may hold while <see cref="ExpiresAt"/> is set; null: the first
    /// application. Keep-alives and the clear go to it even after the user's application changed (docs/graph-budget.md).
    /// </summary>
    public string? Application { get; init; }

    /// <summary>
    /// <see cref="Application"/> when it cannot be known: the node stopped while a first set was on its way, before its
    /// outcome recorded the application it went to. The clear then goes to every application (docs/graph-budget.md).
    /// </summary>
    public const string AnyApplication = "*";

    /// <summary>What our session was last set to show; null in states written before the mapping was editable (Busy/InACall).</summary>
    public TeamsShown? ShownAs { get; init; }

    /// <summary>
    /// Every state our session has shown since it began (kept a while after its clear): Teams showing one of them may be
    /// our own echo, covering the person's state (E1, docs/mapping.md).
    /// </summary>
    public ImmutableList<TeamsShown> Shown { get; init; } = [];

    public long LastOperation { get; init; }

    public int Failures { get; init; }

    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>When our session was last cleared or lapsed (E1: later call notifications may still be our echo).</summary>
    public DateTimeOffset? ClearedAt { get; init; }

    /// <summary>Whether our session showed this state (states from before the mapping was editable: Busy/InACall).</summary>
    public bool Showed(TeamsPresence presence) =>
        (Shown.IsEmpty ? [ShownAs ?? TeamsShown.InACall] : Shown).Any(s =>
            string.Equals(s.Availability, presence.Availability.Value, StringComparison.OrdinalIgnoreCase)
            && string.Equals(s.Activity, presence.Activity.Value, StringComparison.OrdinalIgnoreCase));
}

/// <summary>UC updates issued to the front end: sequence numbers, the one not yet acknowledged, and the echo we expect back.</summary>
public sealed record UcOutbox
{
    public long LastSequence { get; init; }

    public long LastAcknowledged { get; init; }

    /// <summary>The newest update not yet acknowledged; re-sent after a restart or a failure.</summary>
    public UcUpdate? Pending { get; init; }

    public int Failures { get; init; }

    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>
    /// E2: updates issued whose report from the UC back end has not come back yet. Any of them may still reach UC
    /// (the front end only drops a lower sequence after a higher one), so a report of any of them is our own echo.
    /// </summary>
    public ImmutableList<UcUpdate> Unechoed { get; init; } = [];

    /// <summary>What UC showed before the oldest unechoed update: a report of it is older news, not a change.</summary>
    public UcStatus? StatusBeforeUpdates { get; init; }

    internal const int MaxUnechoed = 8;
}

/// <summary>The outcome of one input: the new state, what to do, and whether the input must be journaled.</summary>
public sealed record PresenceDecision(UserPresenceState State, IReadOnlyList<PresenceEffect> Effects, bool Persist);
