using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Time: the one timer a user's actor runs, derived from the state, and what a fired timer or a recovery does.</summary>
public sealed partial record UserPresenceState
{
    private sealed partial class Decider
    {
        public void TimerFired()
        {
            _timerDueAt = null; // the timer is spent; Finish re-arms what is still due
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
            _timerDueAt = null; // a recovered actor has no timer running
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

            if (due == _timerDueAt)
                return;
            _timerDueAt = due;
            _effects.Add(due is { } at ? new ArmTimer(at) : new CancelTimer());
        }

        private static DateTimeOffset Later(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x > b ? x : b;

        private static DateTimeOffset? Earlier(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x < y ? x : y) : a ?? b;
    }
}
