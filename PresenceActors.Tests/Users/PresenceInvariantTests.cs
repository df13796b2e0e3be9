using PresenceActors.Presence;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.Users;

/// <summary>
/// Seeded random walks: a small model of Teams (sessions, the user's own status, calls, meetings, presenting, late,
/// duplicated and reordered notifications) and of UC (the person's choices, phone calls, a front end that fails) drives
/// the rules. A third of the walks run with a custom mapping (docs/mapping.md) and a third switch between the two midway.
/// </summary>
public class PresenceInvariantTests
{
    private const int Walks = 10_000;

    [Fact]
    public void Random_walks_end_with_the_persons_uc_choice_and_no_session_of_ours()
    {
        var failures = new List<string>();
        var coverage = new Dictionary<string, int>();
        var only = Environment.GetEnvironmentVariable("WALK_SEED");
        for (var seed = only is null ? 0 : int.Parse(only); seed < (only is null ? Walks : int.Parse(only) + 1) && failures.Count < 5; seed++)
        {
            var world = new World(seed);
            try
            {
                world.Walk();
                world.Quiesce();
                world.CheckFinalInvariants();
                foreach (var rule in world.RulesSeen)
                    coverage[rule] = coverage.GetValueOrDefault(rule) + 1;
            }
            catch (InvariantViolation violation)
            {
                failures.Add($"seed {seed}: {violation.Message}\n  trace: {string.Join("\n    ", world.Trace.TakeLast(only is null ? 25 : 400))}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        if (only is null)
        {
            // The walks must actually reach the interesting corners, not pass by avoiding them.
            foreach (var rule in new[] { "T1", "T2", "U1", "U2", "manual-during-call", "restore-deferred", "late-echo-read", "reassert",
                         "crossing-changed", "uc-status-row", "busy-on-busy", "mapping", "withdrawn" })
                Assert.True(coverage.GetValueOrDefault(rule) >= 50, $"only {coverage.GetValueOrDefault(rule)} walks reached {rule}");
        }
    }

    private sealed class InvariantViolation(string message) : Exception(message);

    private sealed record Notification(string Availability, string Activity, string? Sequence, DateTimeOffset DeliverAt, bool OurEchoOnly);

    /// <summary>
    /// Presenting and the person's Teams DoNotDisturb cross to UC; the person's UC "DoNotDisturb" crosses to Teams; and
    /// busy-on-busy shows UC calls as DoNotDisturb/Presenting.
    /// </summary>
    private static readonly PresenceMapping Custom = PresenceMapping.Seed with
    {
        Version = 1,
        TeamsToUc = [.. PresenceMapping.Seed.TeamsToUc, new TeamsToUcRow("Presenting", null, "Busy"), new TeamsToUcRow("DoNotDisturb", "DoNotDisturb", "DND")],
        UcToTeams = [.. PresenceMapping.Seed.UcToTeams, new UcToTeamsRow("DoNotDisturb", "DoNotDisturb", "Presenting")],
        BusyOnBusy = true,
    };

    private sealed class World
    {
        private static readonly string[] PersonStatuses = ["Available", "Away", "DoNotDisturb", "BeRightBack", "Mittagspause ☕"];
        private static readonly string?[] Preferences = [null, null, null, "DoNotDisturb", "BeRightBack", "Away", "Offline", "Busy"];

        private readonly Random _rng;
        private readonly PresenceScenario _s;
        private readonly bool _withSequenceNumbers;
        private readonly List<PresenceEffect> _pending = [];
        private readonly List<Notification> _notifications = [];

        // UC
        private string _ucShown;
        private string _personChoice;
        private bool _onPhone;
        private long _frontEndApplied;
        private long _highestIssued;

        // Teams
        private string? _preferred;
        private bool _realCall;
        private bool _meeting;
        private bool _presenting;
        private bool _ourSession;
        private TeamsShown _ourShown = TeamsShown.InACall;
        private readonly bool _switchesMapping;
        private PresenceMapping _table;

        private static readonly PresenceSettings Settings = PresenceSettings.Default with { HistoryLength = 5 };
        private DateTimeOffset _ourSessionExpires;
        private long _graphSequence;
        private (string Availability, string Activity) _shown;

        public World(int seed)
        {
            _rng = new Random(seed);
            _withSequenceNumbers = seed % 3 != 0;
            _s = new PresenceScenario(Settings);
            _switchesMapping = seed % 3 == 2;
            _table = seed % 3 == 1 ? Custom : PresenceMapping.Seed;
            Feed(new PresenceRulesChanged(_table) { At = _s.Now });
            _ucShown = _personChoice = PersonStatuses[_rng.Next(PersonStatuses.Length)];
            _shown = Aggregate();
            Feed(new UcPresenceReported(_ucShown, false, _s.Now) { At = _s.Now });
            Feed(new TeamsPresenceObserved(_shown.Availability, _shown.Activity, Sequence(), TeamsPresenceSource.Read) { At = _s.Now });
        }

        public List<string> Trace { get; } = [];

        public HashSet<string> RulesSeen { get; } = [];

        public void Walk()
        {
            var steps = _rng.Next(5, 60);
            for (var i = 0; i < steps; i++)
            {
                switch (_rng.Next(14))
                {
                    case 12:
                        _presenting = !_presenting;
                        Trace.Add($"Teams presenting {(_presenting ? "starts" : "ends")}");
                        TeamsChanged(ourOnly: false);
                        break;
                    case 13:
                        if (!_switchesMapping)
                            break;
                        _table = (_table.BusyOnBusy ? PresenceMapping.Seed : Custom) with { Version = _table.Version + 1 };
                        Trace.Add($"mapping switched to {(_table.BusyOnBusy ? "custom" : "seed")} v{_table.Version}");
                        Feed(new PresenceRulesChanged(_table) { At = _s.Now });
                        break;
                    case 0:
                        PersonChoosesUcStatus();
                        break;
                    case 1:
                        _onPhone = !_onPhone;
                        Trace.Add($"UC phone {(_onPhone ? "off hook" : "on hook")}");
                        ReportUc(echo: false);
                        break;
                    case 2:
                        _realCall = !_realCall;
                        Trace.Add($"Teams call {(_realCall ? "starts" : "ends")}");
                        TeamsChanged(ourOnly: false);
                        break;
                    case 3:
                        _preferred = Preferences[_rng.Next(Preferences.Length)];
                        Trace.Add($"Teams own status {_preferred ?? "(none)"}");
                        TeamsChanged(ourOnly: false);
                        break;
                    case 4:
                        _meeting = !_meeting;
                        TeamsChanged(ourOnly: false);
                        break;
                    case 5:
                    case 6:
                        Advance(TimeSpan.FromSeconds(_rng.Next(0, 150)));
                        break;
                    case 7:
                    case 8:
                    case 9:
                        if (_pending.Count > 0)
                            Perform(_pending[_rng.Next(_pending.Count)], mayFail: true);
                        break;
                    default:
                        DeliverSomeNotification();
                        break;
                }
            }
        }

        public void Quiesce()
        {
            Trace.Add("-- quiesce --");
            if (_realCall || _presenting || _preferred == "DoNotDisturb")
            {
                _realCall = _presenting = false;
                _preferred = _preferred == "DoNotDisturb" ? null : _preferred;
                TeamsChanged(ourOnly: false);
            }

            if (_onPhone)
            {
                _onPhone = false;
                ReportUc(echo: false);
            }

            Drain();
            // A UC status that crosses to Teams holds our session for as long as it lasts: the person moves on from it.
            if (_table.TeamsShownFor(_s.State.UserId, false, UcStatus.Of(_personChoice)) is not null)
            {
                _ucShown = _personChoice = new[] { "Available", "Away", "BeRightBack" }.First(c => _s.State.Outbox.Unechoed.All(u => u.Status.Value != c));
                Trace.Add($"person sets UC {_personChoice}");
                ReportUc(echo: false);
                Drain();
            }

            // The periodic reconciliation read catches whatever notifications were dropped.
            Feed(new TeamsPresenceObserved(_shown.Availability, _shown.Activity, Sequence(), TeamsPresenceSource.Read) { At = _s.Now });
            while (_pending.Count > 0)
                Perform(_pending[0], mayFail: false);
        }

        private void Drain()
        {
            for (var round = 0; round < 200; round++)
            {
                while (_pending.Count > 0)
                    Perform(_pending[0], mayFail: false);
                foreach (var n in _notifications.OrderBy(n => n.DeliverAt).ToList())
                    Deliver(n);
                if (_s.State.TimerDueAt is null && _pending.Count == 0 && _notifications.Count == 0)
                    break;
                Advance(TimeSpan.FromSeconds(100));
            }
        }

        public void CheckFinalInvariants()
        {
            var state = _s.State;
            Check(_ucShown == _personChoice, $"UC shows {_ucShown}, the person last chose {_personChoice}");
            Check(!_ourSession, "our Teams session is still on Graph");
            Check(state.Session.ExpiresAt is null && state.Session.InFlight is null, "state still believes in our session");
            Check(state.Outbox.Pending is null, "a UC update is still pending");
            Check(!state.TeamsCallActive && !state.RestorePending, "state still holds a Teams call");
            Check(state.TimerDueAt is null, "a timer is still armed at rest");

            // The journal replays to the same state whatever table the node is configured with by then: each input is
            // judged by the table the user's state kept when it came.
            var other = Settings with { Mapping = Custom with { Version = 99, BusyOnBusy = false, TeamsToUc = [new TeamsToUcRow("Away", null, "Gone")] } };
            var replayed = UserPresenceState.Initial(state.UserId);
            foreach (var input in _s.Inputs)
                replayed = replayed.Handle(input, other).State;
            Check(Json(replayed) == Json(state), $"replayed under another table: {Json(replayed)}\n  live: {Json(state)}");
        }

        private static string Json(UserPresenceState state) =>
            System.Text.Json.JsonSerializer.Serialize(state, PresenceActors.Serialization.ManifestJsonSerializer.Json);

        private static void Check(bool condition, string message)
        {
            if (!condition)
                throw new InvariantViolation(message);
        }

        private string? Sequence() => _withSequenceNumbers ? _graphSequence.ToString("D12") : null;

        private void PersonChoosesUcStatus()
        {
            var choice = PersonStatuses[_rng.Next(PersonStatuses.Length)];
            // A UC report names no origin: a choice equal to one of our updates still on its way is indistinguishable
            // from that update's echo (E2), and one equal to what UC showed before them from UC not having applied them
            // yet; so the person here never picks one of those.
            var outbox = _s.State.Outbox;
            if (choice == _ucShown || outbox.Unechoed.Any(u => u.Status.Value == choice)
                || (!outbox.Unechoed.IsEmpty && outbox.StatusBeforeUpdates?.Value == choice))
                return;
            _ucShown = _personChoice = choice;
            Trace.Add($"person sets UC {choice}");
            ReportUc(echo: false);
        }

        private void ReportUc(bool echo)
        {
            var effects = Feed(new UcPresenceReported(_ucShown, _onPhone, _s.Now) { At = _s.Now });
            if (echo)
                Check(!effects.Any(IsWrite), $"E2 echo of {_ucShown} caused {string.Join(", ", effects.Where(IsWrite))}");
        }

        private static bool IsWrite(PresenceEffect e) => e is SendUcUpdate or SetTeamsSession or ClearTeamsSession;

        /// <summary>
        /// Graph's aggregation: the user's own DND/BRB/Away/Offline outrank sessions; else the busiest session wins
        /// (DoNotDisturb over Busy over Available; a call or a presentation over a meeting over plain Busy).
        /// </summary>
        private (string, string) Aggregate(bool withOurSession = true)
        {
            if (_preferred is "DoNotDisturb" or "BeRightBack" or "Away")
                return (_preferred, _preferred);
            if (_preferred == "Offline")
                return ("Offline", "OffWork");
            var candidates = new List<(string Availability, string Activity)> { _preferred == "Busy" ? ("Busy", "Busy") : ("Available", "Available") };
            if (_realCall)
                candidates.Add(("Busy", "InACall"));
            if (_presenting)
                candidates.Add(("DoNotDisturb", "Presenting"));
            if (_ourSession && withOurSession)
                candidates.Add((_ourShown.Availability, _ourShown.Activity));
            if (_meeting)
                candidates.Add(("Busy", "InAMeeting"));
            return candidates
                .OrderByDescending(c => c.Availability switch { "DoNotDisturb" => 3, "Busy" => 2, _ => 1 })
                .ThenByDescending(c => c.Activity switch { "InACall" or "Presenting" => 3, "InAMeeting" => 2, "Busy" => 1, _ => 0 })
                .First();
        }

        private void TeamsChanged(bool ourOnly)
        {
            var now = Aggregate();
            if (now == _shown)
                return;
            _shown = now;
            _graphSequence++;
            var echoOnly = ourOnly && _ourSession && Aggregate(withOurSession: false) != now;
            var delay = TimeSpan.FromSeconds(_rng.Next(0, 60));
            var n = new Notification(now.Item1, now.Item2, Sequence(), _s.Now + delay, echoOnly);
            if (_rng.Next(20) == 0)
                return; // dropped without a word
            _notifications.Add(n);
            if (_rng.Next(10) == 0)
                _notifications.Add(n with { DeliverAt = n.DeliverAt + TimeSpan.FromSeconds(_rng.Next(0, 30)) }); // duplicate
        }

        private void DeliverSomeNotification()
        {
            if (_notifications.Count > 0)
                Deliver(_notifications[_rng.Next(_notifications.Count)]); // any order
        }

        private void Deliver(Notification n)
        {
            _notifications.Remove(n);
            var effects = Feed(new TeamsPresenceObserved(n.Availability, n.Activity, n.Sequence, TeamsPresenceSource.Notification) { At = _s.Now });
            if (n.OurEchoOnly)
                Check(!effects.Any(IsWrite), $"E1 echo {n.Availability}/{n.Activity} caused {string.Join(", ", effects.Where(IsWrite))}");
        }

        /// <summary>Moves the clock, firing timers, session expiry and notification deliveries at their moments, in order.</summary>
        private void Advance(TimeSpan by)
        {
            var target = _s.Now + by;
            while (true)
            {
                var candidates = new List<DateTimeOffset?> { _s.State.TimerDueAt, _ourSession ? _ourSessionExpires : null };
                candidates.AddRange(_notifications.Select(n => (DateTimeOffset?)n.DeliverAt));
                var next = candidates.Where(t => t is not null && t <= target).Min();
                if (next is null)
                    break;
                if (next > _s.Now)
                    _s.Advance(next.Value - _s.Now);
                if (_ourSession && _ourSessionExpires <= _s.Now)
                {
                    _ourSession = false;
                    Trace.Add("Graph: our session expired");
                    TeamsChanged(ourOnly: true);
                }

                if (_s.State.TimerDueAt is { } due && due <= _s.Now)
                    Feed(new TimerFired { At = _s.Now });
                foreach (var n in _notifications.Where(n => n.DeliverAt <= _s.Now).ToList())
                    Deliver(n);
            }

            _s.Advance(target - _s.Now);
        }

        private void Perform(PresenceEffect effect, bool mayFail)
        {
            _pending.Remove(effect);
            var fails = mayFail && _rng.Next(7) == 0;
            switch (effect)
            {
                case SendUcUpdate send:
                    var applied = !fails || _rng.Next(4) == 0; // a timeout may hide a delivery
                    var changed = false;
                    if (applied && send.Update.Sequence > _frontEndApplied)
                    {
                        _frontEndApplied = send.Update.Sequence;
                        changed = _ucShown != send.Update.Status.Value;
                        _ucShown = send.Update.Status.Value;
                        Trace.Add($"FE applies #{send.Update.Sequence} {_ucShown}");
                    }

                    Feed(fails
                        ? new UcUpdateFailed(send.Update.Sequence, "503") { At = _s.Now }
                        : new UcUpdateAcknowledged(send.Update.Sequence) { At = _s.Now });
                    if (changed)
                        ReportUc(echo: true);
                    break;
                case SetTeamsSession set:
                    if (!fails || _rng.Next(2) == 0)
                    {
                        _ourSession = true;
                        _ourShown = set.Shown;
                        _ourSessionExpires = _s.Now + set.Expiration;
                        TeamsChanged(ourOnly: true);
                    }

                    Feed(fails
                        ? new TeamsSessionSetFailed(set.Operation, "timeout") { At = _s.Now }
                        : new TeamsSessionSet(set.Operation, _s.Now + set.Expiration) { At = _s.Now });
                    break;
                case ClearTeamsSession clear:
                    if (fails)
                    {
                        Feed(new TeamsSessionClearFailed(clear.Operation, "503") { At = _s.Now });
                        break;
                    }

                    var existed = _ourSession;
                    _ourSession = false;
                    TeamsChanged(ourOnly: true);
                    Feed(new TeamsSessionCleared(clear.Operation, !existed) { At = _s.Now });
                    break;
                case ReadTeamsPresence:
                    Feed(new TeamsPresenceObserved(_shown.Availability, _shown.Activity, Sequence(), TeamsPresenceSource.Read) { At = _s.Now });
                    break;
            }
        }

        private IReadOnlyList<PresenceEffect> Feed(PresenceInput input)
        {
            var before = _s.State;
            var effects = _s.Apply(input);
            foreach (var t in _s.State.History.Except(before.History))
            {
                RulesSeen.Add(t.Rule);
                if (t.Detail.Contains("during the Teams call"))
                    RulesSeen.Add("manual-during-call");
                if (t.Detail.Contains("restore waits"))
                    RulesSeen.Add("restore-deferred");
            }

            if (input is TeamsPresenceObserved { Source: TeamsPresenceSource.Notification } && effects.Contains(new ReadTeamsPresence()))
                RulesSeen.Add("late-echo-read");
            if (input is UcPresenceReported && effects.Any(e => e is SendUcUpdate))
                RulesSeen.Add("reassert");
            if (_s.State.History.Except(before.History).Any(t => t.Detail.StartsWith("Teams now")))
                RulesSeen.Add("crossing-changed");
            if (effects.OfType<SetTeamsSession>().Any(e => e.Shown == TeamsShown.DoNotDisturb))
                RulesSeen.Add(_s.State.UcOnPhone ? "busy-on-busy" : "uc-status-row");
            var withdrawn = new List<long>();
            foreach (var effect in effects)
            {
                if (effect is SendUcUpdate send)
                {
                    var issuedBefore = send.Update.Sequence <= _highestIssued;
                    Check(!issuedBefore || _pending.OfType<SendUcUpdate>().All(p => p.Update.Sequence <= send.Update.Sequence),
                        $"UC update #{send.Update.Sequence} re-sent after a newer one");
                    Check(send.Update.Sequence >= _highestIssued, $"UC update sequence went back from {_highestIssued} to {send.Update.Sequence}");
                    _highestIssued = send.Update.Sequence;
                    Trace.Add($"  → UC #{send.Update.Sequence} {send.Update.Status} ({send.Update.Reason})");
                }

                if (effect is SendUcUpdate or SetTeamsSession or ClearTeamsSession or ReadTeamsPresence)
                    _pending.Add(effect);
                // A set still waiting for Graph's budget may be withdrawn before it goes out, or have gone out already.
                if (effect is WithdrawTeamsSession withdraw && _pending.OfType<SetTeamsSession>().FirstOrDefault(p => p.Operation == withdraw.Operation) is { } unsent
                    && _rng.Next(2) == 0)
                {
                    _pending.Remove(unsent);
                    withdrawn.Add(withdraw.Operation);
                }
            }


            Trace.Add($"{_s.Now:HH:mm:ss} {input.GetType().Name} → {string.Join(", ", effects.Select(e => e.GetType().Name))}");
            foreach (var operation in withdrawn)
            {
                RulesSeen.Add("withdrawn");
                Feed(new TeamsSessionSetWithdrawn(operation) { At = _s.Now });
            }

            return effects;
        }
    }
}
