using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>
/// One user's presence across Teams and OpenScape UC, and the rules T1..U2, E1, E2 of docs/rules.md.
/// Immutable and free of I/O and clocks: <see cref="Handle"/> takes an input (with its time) and returns the new state
/// plus the effects to perform.
/// </summary>
public sealed partial record UserPresenceState
{
    public required string UserId { get; init; }

    public string? UcUserId { get; init; }

    public bool Linked { get; init; }

    public TeamsPresence? Teams { get; init; }

    /// <summary>What the UC status is as far as we know (reported by the UC back end, or sent by us).</summary>
    public UcStatus? UcCurrent { get; init; }

    /// <summary>The status in the UC back end's newest report: a report repeating it carries no status change.</summary>
    public UcStatus? UcLastReported { get; init; }

    /// <summary>The UC back end's own time of its newest report.</summary>
    public DateTimeOffset? UcReportedAt { get; init; }

    /// <summary>T1: the UC status the user had just before the Teams call.</summary>
    public UcStatus? UcPrior { get; init; }

    public bool UcOnPhone { get; init; }

    /// <summary>When the UC call under way began (our clock); it is taken as ended after <see cref="PresenceSettings.MaxUcCallLength"/>.</summary>
    public DateTimeOffset? UcCallStartedAt { get; init; }

    /// <summary>
    /// The report time of a UC call ended by the length limit: reports of that call (a repeat, a redelivery) start no new
    /// one, a later report of a call does.
    /// </summary>
    public DateTimeOffset? UcCallCappedReport { get; init; }

    /// <summary>A Teams state that crosses to UC holds (by default: a Teams call); see docs/mapping.md.</summary>
    public bool TeamsCallActive { get; init; }

    /// <summary>The UC status the crossing Teams state set; null in states written before the mapping was editable (Busy).</summary>
    public UcStatus? TeamsCallStatus { get; init; }

    public DateTimeOffset? TeamsCallStartedAt { get; init; }

    /// <summary>The Teams call ended during a UC call: the restore waits for the UC call to end.</summary>
    public bool RestorePending { get; init; }

    /// <summary>T2: someone changed UC during the Teams call; their choice stands and nothing is restored.</summary>
    public bool UcChangedDuringCall { get; init; }

    /// <summary>
    /// The table this user is judged by, their busy-on-busy resolved (docs/mapping.md); null until the first cluster table
    /// reached them: then the configured one. Kept in the state and journaled with each change, so that a journal replays
    /// under the table it was written under.
    /// </summary>
    public PresenceMapping? Mapping { get; init; }

    public TeamsSession Session { get; init; } = new();

    public UcOutbox Outbox { get; init; } = new();

    public DateTimeOffset? TimerDueAt { get; init; }

    public ImmutableList<PresenceTransition> History { get; init; } = [];

    public static UserPresenceState Initial(string userId) => new() { UserId = userId };

    /// <summary>A user in this state must stay in memory: a call, our session or an unacknowledged update needs attention.</summary>
    public bool HoldsWork =>
        TeamsCallActive || RestorePending || UcOnPhone || Session.ExpiresAt is not null || Session.InFlight is not null
        || Outbox.Pending is not null;

    /// <summary>E1: while our session may be shown by Teams, an "in a call" notification is our own echo.</summary>
    public bool OurSessionActive(DateTimeOffset now) =>
        Session.InFlight is not null || (Session.ExpiresAt is { } expires && expires > now);

    public PresenceDecision Handle(PresenceInput input, PresenceSettings settings)
    {
        var decider = new Decider(this, settings, input.At);
        switch (input)
        {
            case UserLinked linked: decider.Link(linked.UcUserId); break;
            case UserUnlinked: decider.Unlink(); break;
            case TeamsPresenceObserved observed: decider.ObserveTeams(observed); break;
            case UcPresenceReported reported: decider.ReportUc(reported); break;
            case TimerFired: decider.TimerFired(); break;
            case Resumed: decider.Resume(); break;
            case UcUpdateAcknowledged ack: decider.UcAcknowledged(ack.Sequence); break;
            case UcUpdateFailed failed: decider.UcFailed(failed.Sequence, failed.Reason); break;
            case TeamsSessionSet set: decider.SessionSet(set.Operation, set.ExpiresAt, set.Application); break;
            case TeamsSessionSetFailed setFailed: decider.SessionSetFailed(setFailed.Operation, setFailed.Reason, setFailed.Application); break;
            case TeamsSessionSetWithdrawn withdrawn: decider.SessionSetWithdrawn(withdrawn.Operation); break;
            case TeamsSessionCleared cleared: decider.SessionCleared(cleared.Operation, cleared.WasAlreadyGone); break;
            case TeamsSessionClearFailed clearFailed: decider.SessionClearFailed(clearFailed.Operation, clearFailed.Reason); break;
            case PresenceRulesChanged changed: decider.RulesChanged(changed.Mapping); break;
            default: throw new ArgumentException($"Unknown presence input {input.GetType().Name}", nameof(input));
        }

        return decider.Finish();
    }

    /// <summary>
    /// Mutable scratchpad for one decision; only <see cref="Finish"/> leaves it. The rules change the state in one way
    /// only, <see cref="Set"/>, and an input that changed it is journaled (<see cref="PresenceDecision.Persist"/>). The
    /// timer is not state the rules change: it is derived from the state at the end of every decision
    /// (<see cref="ReconcileTimer"/>), kept apart, and never a reason to journal.
    /// </summary>
    private sealed partial class Decider(UserPresenceState start, PresenceSettings settings, DateTimeOffset now)
    {
        private readonly List<PresenceEffect> _effects = [];
        private UserPresenceState _s = start;
        private DateTimeOffset? _timerDueAt = start.TimerDueAt;
        private bool _journal;

        /// <summary>The table the rules judge by: the user's own, else the configured one.</summary>
        private PresenceMapping Table => _s.Mapping ?? settings.Mapping;

        /// <summary>The one way a rule changes the state: the input that caused it will be journaled.</summary>
        private void Set(UserPresenceState next)
        {
            _s = next;
            _journal = true;
        }

        /// <summary>History: each rule that fired, with what it did (the newest <see cref="PresenceSettings.HistoryLength"/>).</summary>
        private void Note(string rule, string detail)
        {
            var history = _s.History.Add(new PresenceTransition(now, rule, detail));
            if (history.Count > settings.HistoryLength)
                history = history.RemoveRange(0, history.Count - settings.HistoryLength);
            Set(_s with { History = history });
        }

        public PresenceDecision Finish()
        {
            EndOverlongUcCall();
            ReconcileSession();
            ReconcileTimer();
            return new PresenceDecision(_s with { TimerDueAt = _timerDueAt }, _effects, Persist: _journal);
        }
    }
}
