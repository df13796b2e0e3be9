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
public sealed record SessionOperation(long Id, SessionOperationKind Kind, DateTimeOffset IssuedAt);

/// <summary>Our Graph presence session for this user, as far as the service knows it.</summary>
public sealed record TeamsSession
{
    /// <summary>Graph may hold our session until then; null when it certainly holds none.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the keep-alive setPresence is next due while a UC call lasts.</summary>
    public DateTimeOffset? RefreshDueAt { get; init; }

    public SessionOperation? InFlight { get; init; }

    public long LastOperation { get; init; }

    public int Failures { get; init; }

    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>When our session was last cleared or lapsed (E1: later call notifications may still be our echo).</summary>
    public DateTimeOffset? ClearedAt { get; init; }
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

/// <summary>
/// One user's presence across Teams and OpenScape UC, and the rules T1..U2, E1, E2 of DESIGN section 1.
/// Immutable and free of I/O and clocks: <see cref="Handle"/> takes an input (with its time) and returns the new state
/// plus the effects to perform.
/// </summary>
public sealed record UserPresenceState
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

    public bool TeamsCallActive { get; init; }

    public DateTimeOffset? TeamsCallStartedAt { get; init; }

    /// <summary>The Teams call ended during a UC call: the restore waits for the UC call to end.</summary>
    public bool RestorePending { get; init; }

    /// <summary>T2: someone changed UC during the Teams call; their choice stands and nothing is restored.</summary>
    public bool UcChangedDuringCall { get; init; }

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
            case TeamsSessionSet set: decider.SessionSet(set.Operation, set.ExpiresAt); break;
            case TeamsSessionSetFailed setFailed: decider.SessionSetFailed(setFailed.Operation, setFailed.Reason); break;
            case TeamsSessionCleared cleared: decider.SessionCleared(cleared.Operation, cleared.WasAlreadyGone); break;
            case TeamsSessionClearFailed clearFailed: decider.SessionClearFailed(clearFailed.Operation, clearFailed.Reason); break;
            default: throw new ArgumentException($"Unknown presence input {input.GetType().Name}", nameof(input));
        }

        return decider.Finish();
    }

    /// <summary>Mutable scratchpad for one decision; only <see cref="Finish"/> leaves it.</summary>
    private sealed class Decider(UserPresenceState start, PresenceSettings settings, DateTimeOffset now)
    {
        private readonly List<PresenceEffect> _effects = [];
        private UserPresenceState _s = start;
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
            Set(_s with { Linked = true, UcUserId = ucUserId });
            Note("link", $"linked to UC user {ucUserId}");
        }

        public void Unlink()
        {
            if (!_s.Linked)
                return;
            Set(_s with { Linked = false });
            Note("unlink", "removed from synchronisation; calls wound down");
            if (_s.TeamsCallActive || _s.RestorePending)
            {
                Set(_s with { TeamsCallActive = false });
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
            if (!_s.Linked)
                return;

            if (settings.IsCall(presence.Activity))
            {
                if (_s.TeamsCallActive)
                    return;
                if (_s.OurSessionActive(now))
                    return; // E1: our own Busy/InACall shown back to us.
                if (observed.Source != TeamsPresenceSource.Read && _s.Session.ClearedAt is { } cleared
                    && now - cleared < settings.EchoGrace)
                {
                    // E1: a late notification from while our session held; only a fresh read can tell.
                    _effects.Add(new ReadTeamsPresence());
                    return;
                }

                StartTeamsCall(presence);
            }
            else if (_s.TeamsCallActive)
            {
                Set(_s with { TeamsCallActive = false });
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

        private void StartTeamsCall(TeamsPresence presence)
        {
            var keepPrior = _s.RestorePending && !_s.UcChangedDuringCall;
            Set(_s with
            {
                TeamsCallActive = true,
                TeamsCallStartedAt = now,
                RestorePending = false,
                UcPrior = keepPrior ? _s.UcPrior : _s.UcCurrent,
                UcChangedDuringCall = keepPrior && _s.UcChangedDuringCall,
            });
            Note("T1", $"Teams call started ({presence}); prior UC {_s.UcPrior?.Value ?? "unknown"}, UC set Busy");
            IssueUcUpdate(UcStatus.Busy, UcUpdate.TeamsCallStarted);
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

        public void ReportUc(UcPresenceReported report)
        {
            var status = UcStatus.Of(report.Status);
            if (report.ReportedAt < _s.UcReportedAt)
                return; // older than what we already know; a repeat falls through and changes nothing

            if (report.ReportedAt != _s.UcReportedAt)
                Set(_s with { UcReportedAt = report.ReportedAt });
            ApplyUcStatus(status, report.ReportedAt);

            if (report.OnPhone && !_s.UcOnPhone && !(_s.UcCallCappedReport is { } capped && report.ReportedAt <= capped))
            {
                Set(_s with { UcOnPhone = true, UcCallStartedAt = now, UcCallCappedReport = null });
                Note("U1", "UC call started; Teams set Busy/InACall with our session");
            }
            else if (!report.OnPhone && _s.UcOnPhone)
            {
                Set(_s with { UcOnPhone = false, UcCallStartedAt = null });
                Note("U2", "UC call ended; our Teams session cleared");
                if (_s.RestorePending && !_s.TeamsCallActive)
                    FinishTeamsCall();
            }
        }

        private void ApplyUcStatus(UcStatus status, DateTimeOffset reportedAt)
        {
            if (status.Matches(_s.UcLastReported))
            {
                if (status.Value != _s.UcLastReported!.Value)
                    Set(_s with { UcLastReported = status });
                return; // a repeat (a phone-only report, a redelivery): no status change
            }

            Set(_s with { UcLastReported = status });
            var outbox = _s.Outbox;
            var echoed = outbox.Unechoed.Find(u => status.Matches(u.Status)); // the oldest: newer ones may still follow
            if (echoed is not null)
            {
                // E2: our own update reported back; older ones can no longer reach UC after it.
                var rest = outbox.Unechoed.RemoveAll(u => u.Sequence <= echoed.Sequence);
                Set(_s with
                {
                    UcCurrent = rest.IsEmpty ? status : _s.UcCurrent, // newer updates are still heading for UC
                    Outbox = outbox with { Unechoed = rest, StatusBeforeUpdates = rest.IsEmpty ? null : status },
                });
                return;
            }

            if (status.Matches(_s.UcCurrent))
            {
                if (status.Value != _s.UcCurrent!.Value)
                    Set(_s with { UcCurrent = status }); // UC's own spelling wins, so a restore is verbatim
                return;
            }

            var duringCall = _s.TeamsCallActive || _s.RestorePending;
            var olderThanOurUpdates = !outbox.Unechoed.IsEmpty
                && (reportedAt < outbox.Unechoed[0].OccurredAt || status.Matches(outbox.StatusBeforeUpdates));
            if (olderThanOurUpdates)
            {
                // UC reporting what it showed before our update reached it.
                if (duringCall && reportedAt < _s.TeamsCallStartedAt && !status.Matches(outbox.StatusBeforeUpdates))
                {
                    Set(_s with { UcPrior = status });
                    Note("T1", $"UC changed to {status} just before the Teams call; prior corrected");
                }

                return;
            }

            // Someone else changed UC. Updates already acknowledged have been applied before this change.
            Set(_s with
            {
                UcCurrent = status,
                Outbox = outbox with
                {
                    Unechoed = outbox.Unechoed.RemoveAll(u => u.Sequence <= outbox.LastAcknowledged),
                    StatusBeforeUpdates = status,
                },
            });
            if (outbox.Pending is { } superseded)
            {
                // Someone else changed UC while our update may still be on its way: re-assert their choice with a
                // higher sequence, so that the front end ends on it whatever order the two arrive in.
                Set(_s with { UcCurrent = superseded.Status });
                IssueUcUpdate(status, superseded.Reason);
            }

            if (duringCall)
            {
                Set(_s with { UcChangedDuringCall = true });
                Note("T2", $"UC changed to {status} during the Teams call; it will stand");
            }
            else
            {
                Note("uc", $"UC status {status}");
            }
        }

        public void UcAcknowledged(long sequence)
        {
            var outbox = _s.Outbox;
            if (sequence <= outbox.LastAcknowledged && outbox.Pending?.Sequence != sequence)
                return;
            outbox = outbox with { LastAcknowledged = Math.Max(sequence, outbox.LastAcknowledged) };
            if (outbox.Pending?.Sequence == sequence)
                outbox = outbox with { Pending = null, Failures = 0, RetryAt = null };
            Set(_s with { Outbox = outbox });
        }

        public void UcFailed(long sequence, string reason)
        {
            var outbox = _s.Outbox;
            if (outbox.Pending?.Sequence != sequence)
                return; // superseded by a newer update
            var failures = outbox.Failures + 1;
            Set(_s with { Outbox = outbox with { Failures = failures, RetryAt = now + settings.Backoff(failures) } });
            Note("uc-retry", $"UC update {sequence} failed ({reason}); retry #{failures}");
        }

        public void TimerFired()
        {
            _s = _s with { TimerDueAt = null }; // the timer is spent; Finish re-arms what is still due
            var outbox = _s.Outbox;
            if (outbox.Pending is { } pending && outbox.RetryAt is { } retry && retry <= now)
            {
                Set(_s with { Outbox = outbox with { RetryAt = null } });
                _effects.Add(new SendUcUpdate(pending));
            }

            if (_s.Session.RetryAt is { } sessionRetry && sessionRetry <= now)
                Set(_s with { Session = _s.Session with { RetryAt = null } });
        }

        /// <summary>After recovery: whatever was in flight may or may not have happened, so it is done again.</summary>
        public void Resume()
        {
            _s = _s with { TimerDueAt = null };
            var session = _s.Session;
            if (session.InFlight is { } op)
            {
                session = op.Kind == SessionOperationKind.Set
                    ? session with { InFlight = null, ExpiresAt = Later(session.ExpiresAt, now + settings.SessionTtl), RefreshDueAt = now }
                    : session with { InFlight = null };
            }

            if (session.RetryAt is not null)
                session = session with { RetryAt = null };
            if (session != _s.Session)
                Set(_s with { Session = session });

            if (_s.Outbox.Pending is { } pending)
            {
                if (_s.Outbox.RetryAt is not null)
                    Set(_s with { Outbox = _s.Outbox with { RetryAt = null } });
                _effects.Add(new SendUcUpdate(pending));
            }
        }

        public void SessionSet(long operation, DateTimeOffset expiresAt)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Set } op || op.Id != operation)
                return;
            var first = _s.Session.ExpiresAt is null;
            Set(_s with
            {
                Session = _s.Session with
                {
                    InFlight = null,
                    ExpiresAt = expiresAt,
                    RefreshDueAt = op.IssuedAt + settings.SessionRefresh,
                    Failures = 0,
                    RetryAt = null,
                },
            });
            if (first)
                Note("U1", $"our Teams session holds Busy/InACall until {expiresAt:HH:mm:ss}");
        }

        public void SessionSetFailed(long operation, string reason)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Set } op || op.Id != operation)
                return;
            var failures = _s.Session.Failures + 1;
            Set(_s with
            {
                Session = _s.Session with
                {
                    InFlight = null,
                    // It may have reached Graph at any moment until now: assume it holds a full TTL, so that it is cleared later.
                    ExpiresAt = Later(_s.Session.ExpiresAt, now + settings.SessionTtl),
                    RefreshDueAt = now,
                    Failures = failures,
                    RetryAt = now + settings.Backoff(failures),
                },
            });
            Note("U1-retry", $"setPresence failed ({reason}); retry #{failures}");
        }

        public void SessionCleared(long operation, bool wasAlreadyGone)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Clear } op || op.Id != operation)
                return;
            Set(_s with
            {
                Session = _s.Session with
                {
                    InFlight = null, ExpiresAt = null, RefreshDueAt = null, Failures = 0, RetryAt = null, ClearedAt = now,
                },
            });
            Note("U2", wasAlreadyGone ? "our Teams session was already gone (404)" : "our Teams session cleared");
            _effects.Add(new ReadTeamsPresence()); // E1: a call Teams still shows now is a real one.
        }

        public void SessionClearFailed(long operation, string reason)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Clear } op || op.Id != operation)
                return;
            var failures = _s.Session.Failures + 1;
            Set(_s with
            {
                Session = _s.Session with { InFlight = null, Failures = failures, RetryAt = now + settings.Backoff(failures) },
            });
            Note("U2-retry", $"clearPresence failed ({reason}); retry #{failures}");
        }

        /// <summary>
        /// U2 by the length limit: a UC call the UC back end never reports as ended (its node down, the report lost) must
        /// not hold Teams busy for ever. After <see cref="PresenceSettings.MaxUcCallLength"/> it is taken as ended.
        /// </summary>
        private void EndOverlongUcCall()
        {
            if (!_s.UcOnPhone || _s.UcCallStartedAt is not { } started || now < started + settings.MaxUcCallLength)
                return;
            Set(_s with { UcOnPhone = false, UcCallStartedAt = null, UcCallCappedReport = _s.UcReportedAt });
            Note("U2", $"UC call not reported ended after {settings.MaxUcCallLength:g}: taken as ended; our Teams session cleared");
            if (_s.RestorePending && !_s.TeamsCallActive)
                FinishTeamsCall();
        }

        /// <summary>U1/U2: make Graph hold our session exactly while a UC call lasts.</summary>
        private void ReconcileSession()
        {
            var session = _s.Session;
            if (session.InFlight is not null || (session.RetryAt is { } retry && now < retry))
                return;
            if (_s.Linked && _s.UcOnPhone)
            {
                var due = session.ExpiresAt is not { } expires || expires <= now || session.RefreshDueAt is not { } refresh || refresh <= now;
                if (!due)
                    return;
                var id = session.LastOperation + 1;
                Set(_s with
                {
                    Session = session with
                    {
                        LastOperation = id,
                        InFlight = new SessionOperation(id, SessionOperationKind.Set, now),
                    },
                });
                _effects.Add(new SetTeamsSession(id, settings.SessionTtl));
            }
            else if (session.ExpiresAt is { } expiresAt)
            {
                if (expiresAt <= now)
                {
                    // Graph dropped it by itself when it expired (the self-healing that U1's short TTL buys).
                    Set(_s with { Session = session with { ExpiresAt = null, RefreshDueAt = null, Failures = 0, ClearedAt = now } });
                    Note("U2", "our Teams session expired");
                    _effects.Add(new ReadTeamsPresence());
                    return;
                }

                var id = session.LastOperation + 1;
                Set(_s with
                {
                    Session = session with
                    {
                        LastOperation = id,
                        InFlight = new SessionOperation(id, SessionOperationKind.Clear, now),
                    },
                });
                _effects.Add(new ClearTeamsSession(id));
            }
        }

        private void ReconcileTimer()
        {
            DateTimeOffset? due = null;
            var session = _s.Session;
            if (session.InFlight is null)
            {
                if (session.RetryAt is { } retry)
                    due = retry;
                else if (_s.Linked && _s.UcOnPhone)
                    due = Earlier(session.RefreshDueAt, _s.UcCallStartedAt + settings.MaxUcCallLength);
                else
                    due = session.ExpiresAt;
            }

            if (_s.Outbox is { Pending: not null, RetryAt: { } ucRetry })
                due = due is { } d && d < ucRetry ? d : ucRetry;

            if (due == _s.TimerDueAt)
                return;
            _s = _s with { TimerDueAt = due }; // derived bookkeeping: never a reason to journal
            _effects.Add(due is { } at ? new ArmTimer(at) : new CancelTimer());
        }

        private static DateTimeOffset Later(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x > b ? x : b;

        private static DateTimeOffset? Earlier(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x < y ? x : y) : a ?? b;
    }
}
