using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using static PresenceActors.Users.UserPresenceCommands;
using static PresenceActors.Users.UserPresenceQueries;

namespace PresenceActors.Users;

/// <summary>
/// One user's presence: journals the inputs that change <see cref="UserPresenceState"/>, performs the effects the rules
/// ask for through the two ports, and feeds their outcomes back as inputs. The rules themselves live in the state type.
/// </summary>
public sealed partial class UserPresenceActor : ReceivePersistentActor, IWithTimers
{
    private const string TimerKey = "presence-timer";
    private const string ReadRetryKey = "read-retry";

    /// <summary>Attempts of one Teams presence read (with <see cref="PresenceSettings.Backoff"/> between them) before it is left to reconciliation.</summary>
    public const int MaxReadAttempts = 6;

    private readonly UserPresenceOptions _options;
    private readonly Mapping.PresenceRulesSource _rules;
    private readonly IUcFrontEndPort _frontEnd;
    private readonly ITeamsPresencePort _teams;
    private readonly TimeProvider _clock;
    private readonly WorkInFlight? _inFlight;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private UserPresenceState _state;

    // setPresence calls on their way, by operation: cancelled to withdraw one still waiting for Graph's budget.
    private readonly Dictionary<long, CancellationTokenSource> _withdrawable = [];

    // Graph calls of this incarnation still waiting for the budget are given up when it stops: the next incarnation
    // does again what its state says is in flight, and a set of this one must not go after that one's clear.
    private readonly CancellationTokenSource _stopping = new();

    public UserPresenceActor(
        string userId, UserPresenceOptions options, Mapping.PresenceRulesSource rules, IUcFrontEndPort frontEnd, ITeamsPresencePort teams,
        TimeProvider clock, WorkInFlight? inFlight = null)
    {
        _inFlight = inFlight;
        _options = options;
        _rules = rules;
        _frontEnd = frontEnd;
        _teams = teams;
        _clock = clock;
        _state = UserPresenceState.Initial(userId);
        PersistenceId = PersistenceIdFor(userId);

        Recover<SnapshotOffer>(offer => _state = (UserPresenceState)offer.Snapshot);
        Recover<PresenceInput>(input => _state = _state.Handle(input, _rules.Settings).State);
        Recover<RecoveryCompleted>(_ =>
        {
            // What the set says of this user now, as this node's copy has it: a stale entry (an incarnation that stopped
            // before it could say it had finished) is put right with the first decision.
            _toldHoldsWork = _inFlight?.Contains(_state.UserId);
            Decide(new Resumed { At = Now });
            Context.SetReceiveTimeout(_options.PassivateAfter);
        });

        Command<LinkUser>(c => Decide(new UserLinked(c.UcUserId) { At = Now }, linkStateTo: c.Acknowledge ? Sender : null));
        Command<UnlinkUser>(c => Decide(new UserUnlinked { At = Now }, linkStateTo: c.Acknowledge ? Sender : null));
        Command<ObserveTeamsPresence>(c =>
        {
            AskForLink();
            Decide(new TeamsPresenceObserved(c.Availability, c.Activity, c.SequenceNumber, c.Source) { At = Now }, AcknowledgeTo(c.Acknowledge), c.TraceParent);
        });
        Command<ReportUcPresence>(c =>
        {
            var report = new UcPresenceReported(c.Status, c.OnPhone, c.ReportedAt) { At = Now };
            if (_state.Linked || c.UcUserId is null)
            {
                AskForLink();
                Decide(report, AcknowledgeTo(c.Acknowledge), c.TraceParent);
                return;
            }

            // The UC side names the user it reports for: the first event of a user not linked yet links it before the
            // report is judged, and the registry is told, which puts it right should the registration have changed since.
            Decide(report, AcknowledgeTo(c.Acknowledge), c.TraceParent, Registry(), linkFirst: new UserLinked(c.UcUserId) { At = Now });
        });
        LazyCommands();
        Command<GetUserPresence>(_ => Sender.Tell(new UserPresenceView(_state.UserId, _state)));
        Command<GetSnapshot>(_ => Sender.Tell(UserPresenceSnapshot.Of(_state)));

        Command<EffectOutcome>(outcome =>
        {
            if (outcome.SetOperation is { } op && _withdrawable.Remove(op, out var handle))
                handle.Dispose();
            Decide(outcome.Input with { At = Now });
        });
        Command<TeamsPresenceRead>(read => Decide(new TeamsPresenceObserved(
            read.Presence.Availability.Value, read.Presence.Activity.Value, read.Presence.SequenceNumber,
            TeamsPresenceSource.Read) { At = Now }));
        Command<ReadFailed>(failed =>
        {
            // The read tells a real Teams call from a late echo of ours (E1): try again with back-off; after the last
            // attempt the pool's reconciliation (a bulk read) is what brings the user right.
            if (failed.Attempt >= MaxReadAttempts)
            {
                _log.Warning("teams-read-failed user={0} attempts={1}: {2}; the next reconciliation reads it", _state.UserId, failed.Attempt, failed.Reason);
                return;
            }

            var delay = _rules.Settings.Backoff(failed.Attempt);
            _log.Info("teams-read-failed user={0} attempt={1}: {2}; reading again in {3:0.#} s", _state.UserId, failed.Attempt, failed.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer(ReadRetryKey, new ReadAgain(failed.Attempt + 1), delay);
        });
        Command<ReadAgain>(again => Read(again.Attempt));
        Command<TimerTick>(_ => Decide(new TimerFired { At = Now }));
        Command<ApplyRules>(_ => Decide(null)); // the cluster's table changed: handed over if this user is not judged by it yet

        Command<ReceiveTimeout>(_ =>
        {
            // A passivation is written to the shard's remembered entities: not from a node cut off with a minority, whose
            // shards the majority may already have started (docs/decisions.md, "Partitions"). The next timeout tries again.
            if (!_state.HoldsWork && PresenceActors.Cluster.ClusterQuorum.HeldIn(Akka.Cluster.Cluster.Get(Context.System)))
                Context.Parent.Tell(new Passivate(StopUserActor.Instance));
        });
        // Stashed while a write is in flight, like every command: the actor stops once its events are journaled.
        Command<StopUserActor>(_ => Context.Stop(Self));
        // The events the snapshot holds stay until the journal's trim removes them in bulk (docs/decisions.md, "Trimming
        // the journal in bulk"): deleting them here rewrote as many pages as writing them had.
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("Snapshot of {0} failed: {1}", PersistenceId, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    protected override void PostStop()
    {
        _stopping.Cancel();
        foreach (var withdraw in _withdrawable.Values)
            withdraw.Cancel();
        base.PostStop();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static string PersistenceIdFor(string userId) => $"user-presence-{userId}";

    private DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>Who hears <see cref="Taken"/>: the asker, when it asked for it and can still hear it.</summary>
    private IActorRef? AcknowledgeTo(bool asked) => asked && !Sender.IsNobody() ? Sender : null;

    /// <summary>
    /// Applies the rules to one input; <paramref name="taken"/> hears <see cref="Taken"/> once it is journaled. An input
    /// that came with a trace (<paramref name="traceParent"/>) gets a span, under which the effects' calls run.
    /// </summary>
    private void Decide(PresenceInput? input, IActorRef? taken = null, string? traceParent = null, IActorRef? linkStateTo = null,
        UserLinked? linkFirst = null)
    {
        // The cluster's table first, when this user is not judged by it yet: journaled as an input of its own, before the
        // one that came, so that a replay judges each by the table it was judged by (docs/decisions.md).
        var inputs = new List<PresenceInput>(3);
        if (_rules.ToHand(_state) is { } table)
            inputs.Add(new PresenceRulesChanged(table) { At = Now });
        if (linkFirst is not null)
            inputs.Add(linkFirst);
        if (input is not null)
            inputs.Add(input);
        var span = input is null ? null : StartSpan(input, traceParent);
        var state = _state;
        var effects = new List<PresenceEffect>();
        var journal = new List<PresenceInput>(inputs.Count);
        foreach (var next in inputs)
        {
            var decision = state.Handle(next, _rules.Settings);
            state = decision.State;
            effects.AddRange(decision.Effects);
            if (decision.Persist)
                journal.Add(next);
        }

        if (journal.Count == 0)
        {
            _state = state;
            Within(span, () => Perform(effects));
            Answer(taken, linkStateTo, span);
            return;
        }

        var before = _state.History.Count == 0 ? null : _state.History[^1];
        var written = 0;
        PersistAll(journal, _ =>
        {
            if (++written < journal.Count)
                return;
            _state = state;
            LogTransitions(before, span);
            Within(span, () => Perform(effects));
            Answer(taken, linkStateTo, span);
            if (LastSequenceNr / _options.SnapshotEvery != (LastSequenceNr - journal.Count) / _options.SnapshotEvery)
                SaveSnapshot(_state);
        });
    }

    private void Answer(IActorRef? taken, IActorRef? linkStateTo, System.Diagnostics.Activity? span)
    {
        TellWorkInFlight();
        taken?.Tell(new Taken(_state.UserId));
        linkStateTo?.Tell(new LinkState(_state.UserId, _state.Linked ? _state.UcUserId : null));
        Finish(span);
    }

    /// <summary>A span for this input in the sender's trace; not made current, since the actor's thread serves others too.</summary>
    private System.Diagnostics.Activity? StartSpan(PresenceInput input, string? traceParent)
    {
        if (traceParent is null)
            return null;
        var previous = System.Diagnostics.Activity.Current;
        var span = PresenceTracing.Source.StartActivity("presence.decide", System.Diagnostics.ActivityKind.Consumer, PresenceTracing.Parent(traceParent));
        System.Diagnostics.Activity.Current = previous;
        span?.SetTag("presence.user", _state.UserId);
        span?.SetTag("presence.input", input.GetType().Name);
        return span;
    }

    /// <summary>
    /// Ends the span without touching what is current on this thread: <see cref="System.Diagnostics.Activity.Stop"/>
    /// would make current what was current when the span began, a message or more ago.
    /// </summary>
    private static void Finish(System.Diagnostics.Activity? span)
    {
        if (span is null)
            return;
        var previous = System.Diagnostics.Activity.Current;
        span.Stop();
        System.Diagnostics.Activity.Current = previous;
    }

    /// <summary>Runs <paramref name="work"/> with <paramref name="span"/> current, so that the calls it starts join the trace.</summary>
    private static void Within(System.Diagnostics.Activity? span, Action work)
    {
        if (span is null)
        {
            work();
            return;
        }

        var previous = System.Diagnostics.Activity.Current;
        System.Diagnostics.Activity.Current = span;
        try
        {
            work();
        }
        finally
        {
            System.Diagnostics.Activity.Current = previous;
        }
    }

    private void LogTransitions(PresenceTransition? previousLast, System.Diagnostics.Activity? span = null)
    {
        var history = _state.History;
        var start = previousLast is null ? 0 : history.FindLastIndex(t => ReferenceEquals(t, previousLast)) + 1;
        for (var i = start; i < history.Count; i++)
        {
            span?.AddEvent(new System.Diagnostics.ActivityEvent($"sync-decision {history[i].Rule}"));
            span?.SetTag("presence.rule", history[i].Rule);
            _log.Info("sync-decision user={0} uc={1} teams={2} ucStatus={3} rule={4}: {5}",
                _state.UserId, _state.UcUserId ?? "-", _state.Teams?.ToString() ?? "-", _state.UcCurrent?.Value ?? "-",
                history[i].Rule, history[i].Detail);
            Context.System.EventStream.Publish(new SyncDecision(history[i].At, _state.UserId, _state.UcUserId, history[i].Rule,
                history[i].Detail, _state.Teams?.Availability.Value, _state.Teams?.Activity.Value, _state.UcCurrent?.Value));
        }
    }

    private void Perform(IReadOnlyList<PresenceEffect> effects)
    {
        var userId = _state.UserId;
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case SendUcUpdate send:
                    Run(async ct => { await _frontEnd.DeliverAsync(send.Update, ct); return true; },
                        _ => new EffectOutcome(new UcUpdateAcknowledged(send.Update.Sequence) { At = default }),
                        reason => new EffectOutcome(new UcUpdateFailed(send.Update.Sequence, reason) { At = default }));
                    break;
                case SetTeamsSession set:
                    var withdraw = new CancellationTokenSource();
                    _withdrawable[set.Operation] = withdraw;
                    // The application holding the session keeps it; a new session goes to the user's application now
                    // (docs/graph-budget.md, "Several applications"), and the outcome records which one it was.
                    var application = set.Application switch
                    {
                        TeamsSession.AnyApplication => _teams.ApplicationFor(userId),
                        null when set.ExpiresAt is null => _teams.ApplicationFor(userId),
                        var holding => holding,
                    };
                    var request = new TeamsSessionRequest(set.Shown, set.Expiration, set.KeepAlive, set.ExpiresAt) { Withdrawn = withdraw.Token, Application = application };
                    // Not bounded by the effect timeout: it may wait for Graph's budget (docs/graph-budget.md); the HTTP
                    // call itself is bounded by the Graph client's own timeout.
                    Run(ct => _teams.SetCallPresenceAsync(userId, request, ct),
                        sent => new EffectOutcome(new TeamsSessionSet(set.Operation, Now + sent, application) { At = default }, set.Operation),
                        reason => new EffectOutcome(reason == Withdrawn
                            ? new TeamsSessionSetWithdrawn(set.Operation) { At = default }
                            : new TeamsSessionSetFailed(set.Operation, reason, application) { At = default }, set.Operation),
                        bounded: false);
                    break;
                case WithdrawTeamsSession withdrawSet:
                    if (_withdrawable.TryGetValue(withdrawSet.Operation, out var pending))
                        pending.Cancel();
                    break;
                case ClearTeamsSession clear:
                    Run(ct => _teams.ClearCallPresenceAsync(userId, clear.Application, ct),
                        wasGone => new EffectOutcome(new TeamsSessionCleared(clear.Operation, wasGone) { At = default }),
                        reason => new EffectOutcome(new TeamsSessionClearFailed(clear.Operation, reason) { At = default }),
                        bounded: false);
                    break;
                case ReadTeamsPresence:
                    Timers.Cancel(ReadRetryKey); // this read answers for a retry that was waiting too
                    Read(attempt: 1);
                    break;
                case ArmTimer arm:
                    var delay = arm.DueAt - Now;
                    Timers.StartSingleTimer(TimerKey, TimerTick.Instance, delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
                    break;
                case CancelTimer:
                    Timers.Cancel(TimerKey);
                    break;
            }
        }
    }

    private void Read(int attempt)
    {
        var userId = _state.UserId;
        Run(ct => _teams.ReadPresenceAsync(userId, ct), presence => new TeamsPresenceRead(presence), reason => new ReadFailed(reason, attempt), bounded: false);
    }

    /// <summary>
    /// Runs a port call off the actor's thread and pipes its outcome back; <paramref name="bounded"/>: by the effect
    /// timeout (Graph's calls are not: they may wait for the budget, and their HTTP has its own timeout).
    /// </summary>
    private void Run<T>(Func<CancellationToken, Task<T>> call, Func<T, object> success, Func<string, object> failure, bool bounded = true)
    {
        var timeout = bounded ? new CancellationTokenSource(_options.EffectTimeout) : CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        Task.Run(() => call(timeout.Token), timeout.Token)
            .ContinueWith(t =>
            {
                timeout.Dispose();
                return t.IsCompletedSuccessfully ? success(t.Result) : failure(Describe(t));
            }, TaskScheduler.Default)
            .PipeTo(Self);
    }

    private const string Withdrawn = "withdrawn before it was sent";

    private static string Describe(Task task) =>
        task.IsCanceled ? "timed out"
        : task.Exception?.GetBaseException() is PresenceCallWithdrawnException ? Withdrawn
        : task.Exception?.GetBaseException().Message ?? "failed";

    /// <summary>The outcome of an effect, carried back into the actor as the input it becomes.</summary>
    /// <param name="SetOperation">A setPresence's operation: its withdrawal handle is let go with its outcome.</param>
    private sealed record EffectOutcome(PresenceInput Input, long? SetOperation = null) : INoSerializationVerificationNeeded;

    private sealed record TeamsPresenceRead(Presence.TeamsPresence Presence) : INoSerializationVerificationNeeded;

    private sealed record ReadFailed(string Reason, int Attempt) : INoSerializationVerificationNeeded;

    private sealed record ReadAgain(int Attempt) : INoSerializationVerificationNeeded, IDeadLetterSuppression;

    private sealed class TimerTick : INoSerializationVerificationNeeded, IDeadLetterSuppression
    {
        public static readonly TimerTick Instance = new();
    }
}
