using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Our Teams session for a UC call (U1, U2): what it must show, its set and clear operations and their outcomes.</summary>
public sealed partial record UserPresenceState
{
    private sealed partial class Decider
    {
        /// <summary>What our Teams session must show now (U1 by the mapping's UC rows), or null: none.</summary>
        private TeamsShown? Wanted() =>
            _s.Linked ? Table.TeamsShownFor(_s.UserId, _s.UcOnPhone, _s.UcCurrent) : null;

        /// <summary>A set that begins a session long enough after the last one that none of its echoes can still arrive.</summary>
        private bool FreshSession(TeamsSession session) =>
            session.ExpiresAt is null && (session.ClearedAt is not { } cleared || now - cleared >= settings.EchoGrace);

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
    }
}
