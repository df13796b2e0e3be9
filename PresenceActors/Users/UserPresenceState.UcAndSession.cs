using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>The rules' UC side (reports, E2 echoes, the outbox to the front ends) and our Teams session (U1, U2, timers).</summary>
public sealed partial record UserPresenceState
{
    private sealed partial class Decider
    {
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
                // A first set may have reached Graph with the application the node picked then, which no input
                // recorded: any application may hold it now.
                session = op.Kind == SessionOperationKind.Set
                    ? session with
                    {
                        InFlight = null, ExpiresAt = Later(session.ExpiresAt, now + settings.LongestSessionTtl), RefreshDueAt = now,
                        Application = session.ExpiresAt is null ? TeamsSession.AnyApplication : session.Application,
                    }
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

        public void SessionSet(long operation, DateTimeOffset expiresAt, string? application)
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
                    Application = application,
                    // As long before the end as the configured pair leaves (1 minute): the session may have been sent with a
                    // longer expirationDuration while Graph's budget was tight (docs/graph-budget.md).
                    RefreshDueAt = Later(op.IssuedAt + settings.SessionRefresh, expiresAt - (settings.SessionTtl - settings.SessionRefresh)),
                    Failures = 0,
                    RetryAt = null,
                },
            });
            if (first)
                Note("U1", $"our Teams session holds {_s.Session.ShownAs ?? TeamsShown.InACall} until {expiresAt:HH:mm:ss}");
        }

        public void SessionSetFailed(long operation, string reason, string? application)
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
                    ExpiresAt = Later(_s.Session.ExpiresAt, now + settings.LongestSessionTtl),
                    Application = application,
                    RefreshDueAt = now,
                    Failures = failures,
                    RetryAt = now + settings.Backoff(failures),
                },
            });
            Note("U1-retry", $"setPresence failed ({reason}); retry #{failures}");
        }

        /// <summary>The set never went out: Graph holds what it held before it (nothing, for a first set).</summary>
        public void SessionSetWithdrawn(long operation)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Set } op || op.Id != operation)
                return;
            Set(_s with { Session = _s.Session with { InFlight = null } });
            Note("U2", "the UC call ended before our setPresence went out: nothing was sent");
        }

        public void SessionCleared(long operation, bool wasAlreadyGone)
        {
            if (_s.Session.InFlight is not { Kind: SessionOperationKind.Clear } op || op.Id != operation)
                return;
            Set(_s with
            {
                Session = _s.Session with
                {
                    InFlight = null, ExpiresAt = null, Application = null, RefreshDueAt = null, Failures = 0, RetryAt = null, ClearedAt = now,
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

        /// <summary>A set that begins a session long enough after the last one that none of its echoes can still arrive.</summary>
        private bool FreshSession(TeamsSession session) =>
            session.ExpiresAt is null && (session.ClearedAt is not { } cleared || now - cleared >= settings.EchoGrace);

        /// <summary>What our Teams session must show now (U1 by the mapping's UC rows), or null: none.</summary>
        private TeamsShown? Wanted() =>
            _s.Linked ? Table.TeamsShownFor(_s.UserId, _s.UcOnPhone, _s.UcCurrent) : null;

        /// <summary>U1/U2: make Graph hold our session exactly while a crossing UC state (by default a UC call) lasts.</summary>
        private void ReconcileSession()
        {
            var session = _s.Session;
            if (session.InFlight is { Kind: SessionOperationKind.Set, Withdrawing: false } pending && Wanted() is null)
            {
                // Not wanted any more: if it still waits for Graph's budget it is never sent (docs/graph-budget.md).
                Set(_s with { Session = session with { InFlight = pending with { Withdrawing = true } } });
                _effects.Add(new WithdrawTeamsSession(pending.Id));
                return;
            }

            if (session.InFlight is not null || (session.RetryAt is { } retry && now < retry))
                return;
            if (Wanted() is { } wanted)
            {
                var due = session.ExpiresAt is not { } expires || expires <= now || session.RefreshDueAt is not { } refresh || refresh <= now
                    || wanted != (session.ShownAs ?? TeamsShown.InACall);
                if (!due)
                    return;
                var id = session.LastOperation + 1;
                if (session.ExpiresAt is not null && wanted != (session.ShownAs ?? TeamsShown.InACall))
                    Note("U1", $"our Teams session now shows {wanted}");
                Set(_s with
                {
                    Session = session with
                    {
                        LastOperation = id,
                        InFlight = new SessionOperation(id, SessionOperationKind.Set, now),
                        ShownAs = wanted,
                        Shown = FreshSession(session) ? [wanted] : session.Shown.Contains(wanted) ? session.Shown : session.Shown.Add(wanted),
                    },
                });
                // A keep-alive only when the last set went through and shows the same: a retry, or a set after a restart
                // that may never have gone out, is as urgent as a new call.
                var keepAlive = session.ExpiresAt is { } holds && holds > now && session.Failures == 0 && wanted == (session.ShownAs ?? TeamsShown.InACall);
                _effects.Add(new SetTeamsSession(id, settings.SessionTtl, wanted, keepAlive, session.ExpiresAt, session.Application));
            }
            else if (session.ExpiresAt is { } expiresAt)
            {
                if (expiresAt <= now)
                {
                    // Graph dropped it by itself when it expired (the self-healing that U1's short TTL buys).
                    Set(_s with { Session = session with { ExpiresAt = null, Application = null, RefreshDueAt = null, Failures = 0, ClearedAt = now } });
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
                _effects.Add(new ClearTeamsSession(id, session.Application));
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
                else if (Wanted() is not null)
                    due = Earlier(session.RefreshDueAt, _s.UcOnPhone ? _s.UcCallStartedAt + settings.MaxUcCallLength : null);
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
