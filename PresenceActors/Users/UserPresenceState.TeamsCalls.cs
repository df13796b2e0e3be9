using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>The rules' Teams side: a user linked or unlinked, Teams presence observed, a Teams call started and ended (T1, T2, E1), and a rules change.</summary>
public sealed partial record UserPresenceState
{
    private sealed partial class Decider
    {
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
    }
}
