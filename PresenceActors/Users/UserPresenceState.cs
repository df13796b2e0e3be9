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

    /// <summary>Mutable scratchpad for one decision; only <see cref="Finish"/> leaves it.</summary>
    private sealed partial class Decider(UserPresenceState start, PresenceSettings settings, DateTimeOffset now)
    {
        private readonly List<PresenceEffect> _effects = [];
        private UserPresenceState _s = start;

        /// <summary>The table the rules judge by: the user's own, else the configured one.</summary>
        private PresenceMapping Table => _s.Mapping ?? settings.Mapping;
        private bool _changed;

        private void Set(UserPresenceState next)
        {
            _s = next;
            _changed = true;
        }

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
            return new PresenceDecision(_s, _effects, _changed);
        }

        public void Link(string ucUserId)
        {
            if (_s.Linked && _s.UcUserId == ucUserId)
                return;
            var wasLinked = _s.Linked;
            Set(_s with { Linked = true, UcUserId = ucUserId });
            Note("link", $"linked to UC user {ucUserId}");
            // What Teams showed while the user was not linked (a notification or the pool's read that came first, a
            // link sent again after the registry moved) counts now: a call in progress goes to UC at once (T1).
            if (!wasLinked && _s.Teams is { } known)
                EvaluateTeams(known, TeamsPresenceSource.Notification);
        }

        public void Unlink()
        {
            if (!_s.Linked)
                return;
            // What Teams showed is forgotten: nobody tells us about it from now on, and a link later must not judge it.
            Set(_s with { Linked = false, Teams = null });
            Note("unlink", "removed from synchronisation; calls wound down");
            if (_s.TeamsCallActive || _s.RestorePending)
            {
                Set(_s with { TeamsCallActive = false, TeamsCallStatus = null });
                FinishTeamsCall();
            }

            if (_s.UcOnPhone)
                Set(_s with { UcOnPhone = false, UcCallStartedAt = null });
        }

        public void ObserveTeams(TeamsPresenceObserved observed)
        {
            var presence = TeamsPresence.Parse(observed.Availability, observed.Activity, observed.SequenceNumber);
            if (_s.Teams is { } current)
            {
                // Notifications arrive at least once and in no guaranteed order; Graph's sequenceNumber sorts them.
                if (presence.IsOlderThan(current))
                    return;
                // A read is evaluated even when it repeats: after our clearPresence it is what tells a real call (E1).
                if (presence.IsRepeatOf(current) && observed.Source != TeamsPresenceSource.Read)
                    return;
            }

            if (_s.Teams != presence)
                Set(_s with { Teams = presence with { SequenceNumber = presence.SequenceNumber ?? _s.Teams?.SequenceNumber } });
            if (_s.Linked)
                EvaluateTeams(presence, observed.Source);
        }

        /// <summary>T1 and T2 (with E1) for a linked user's Teams presence, by the mapping's Teams rows.</summary>
        private void EvaluateTeams(TeamsPresence presence, TeamsPresenceSource source)
        {
            // E1: Teams showing a state our session showed tells nothing about the person while the session may hold: it
            // may cover their own state (busy-on-busy's DoNotDisturb outranks their Teams call). Soon after our clear a
            // notification of it may be late news: a fresh read tells.
            if (_s.Session.Showed(presence))
            {
                if (_s.OurSessionActive(now))
                    return;
                if (source != TeamsPresenceSource.Read && _s.Session.ClearedAt is { } clearedAt && now - clearedAt < settings.EchoGrace)
                {
                    _effects.Add(new ReadTeamsPresence());
                    return;
                }
            }

            if (Table.UcStatusFor(presence) is { } target)
            {
                if (_s.TeamsCallActive)
                {
                    ChangeCrossing(presence, target);
                    return;
                }

                if (_s.OurSessionActive(now))
                    return; // E1: our own session shown back to us.
                if (source != TeamsPresenceSource.Read && _s.Session.ClearedAt is { } cleared
                    && now - cleared < settings.EchoGrace)
                {
                    // E1: a late notification from while our session held; only a fresh read can tell.
                    _effects.Add(new ReadTeamsPresence());
                    return;
                }

                StartTeamsCall(presence, target);
            }
            else if (_s.TeamsCallActive)
            {
                Set(_s with { TeamsCallActive = false, TeamsCallStatus = null });
                if (_s.UcOnPhone)
                {
                    Set(_s with { RestorePending = true });
                    Note("T2", $"Teams call ended ({presence}); UC call in progress, restore waits for its end");
                }
                else
                {
                    FinishTeamsCall();
                }
            }
        }

        /// <summary>From one crossing Teams state to another (Presenting to a call, say): UC follows, the prior stays.</summary>
        private void ChangeCrossing(TeamsPresence presence, UcStatus target)
        {
            if (target.Matches(_s.TeamsCallStatus ?? UcStatus.Busy))
                return;
            Set(_s with { TeamsCallStatus = target });
            if (_s.UcChangedDuringCall)
                return; // T2: the person's choice during the crossing stands
            Note("T1", $"Teams now {presence}; UC set {target}");
            IssueUcUpdate(target, UcUpdate.TeamsCallStarted);
        }

        private void StartTeamsCall(TeamsPresence presence, UcStatus target)
        {
            var keepPrior = _s.RestorePending && !_s.UcChangedDuringCall;
            Set(_s with
            {
                TeamsCallActive = true,
                TeamsCallStatus = target,
                TeamsCallStartedAt = now,
                RestorePending = false,
                UcPrior = keepPrior ? _s.UcPrior : _s.UcCurrent,
                UcChangedDuringCall = keepPrior && _s.UcChangedDuringCall,
            });
            Note("T1", $"Teams call started ({presence}); prior UC {_s.UcPrior?.Value ?? "unknown"}, UC set {target}");
            IssueUcUpdate(target, UcUpdate.TeamsCallStarted);
        }

        /// <summary>
        /// The cluster's table reached this user: kept (their busy-on-busy resolved), and what Teams shows now is judged by
        /// its rows (UC's side by <see cref="Finish"/>). The same table again changes nothing.
        /// </summary>
        public void RulesChanged(PresenceMapping mapping)
        {
            var table = mapping.ForUser(_s.UserId);
            if (_s.Mapping is { } current && current.Version == table.Version && current.SameRulesAs(table))
                return;
            Set(_s with { Mapping = table });
            Note("mapping", $"mapping version {table.Version} applied");
            if (_s.Linked && _s.Teams is { } known)
                EvaluateTeams(known, TeamsPresenceSource.Notification);
        }

        private void FinishTeamsCall()
        {
            if (_s.UcChangedDuringCall)
            {
                Note("T2", $"Teams call ended; UC {_s.UcCurrent} was chosen during the call and stands");
            }
            else
            {
                var restore = _s.UcPrior ?? settings.FallbackUcStatus;
                Note("T2", $"Teams call ended; UC restored to {restore}");
                IssueUcUpdate(restore, UcUpdate.TeamsCallEnded);
            }

            Set(_s with { UcPrior = null, RestorePending = false, UcChangedDuringCall = false, TeamsCallStartedAt = null });
        }

        private void IssueUcUpdate(UcStatus status, string reason)
        {
            if (_s.UcUserId is null || (status.Matches(_s.UcCurrent) && _s.Outbox.Pending is null))
                return;
            var sequence = _s.Outbox.LastSequence + 1;
            var update = new UcUpdate(sequence, _s.UcUserId, _s.UserId, status, reason, now);
            Set(_s with
            {
                Outbox = _s.Outbox with
                {
                    LastSequence = sequence,
                    Pending = update,
                    Failures = 0,
                    RetryAt = null,
                    Unechoed = _s.Outbox.Unechoed.Add(update) is var unechoed && unechoed.Count > UcOutbox.MaxUnechoed
                        ? unechoed.RemoveAt(0)
                        : unechoed,
                    StatusBeforeUpdates = _s.Outbox.Unechoed.IsEmpty ? _s.UcCurrent : _s.Outbox.StatusBeforeUpdates,
                },
                UcCurrent = status,
            });
            _effects.Add(new SendUcUpdate(update));
        }
    }
}
