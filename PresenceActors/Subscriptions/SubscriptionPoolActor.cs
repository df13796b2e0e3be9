using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using PresenceActors.Graph;
using static PresenceActors.Subscriptions.SubscriptionPoolCommands;

namespace PresenceActors.Subscriptions;

/// <summary>
/// The only place that knows which technical account watches which user (a persistent cluster singleton). It journals
/// assignments so they survive restarts without reshuffling, runs one <see cref="TechnicalAccountActor"/> per account,
/// moves users off accounts that drain or cannot sign in, lists who is left unwatched, and paces the reconciliation.
/// </summary>
public sealed partial class SubscriptionPoolActor : ReceivePersistentActor, IWithTimers
{
    // The snapshot holds every user: taken when the load is quiet, or every 5 minutes under a load that never pauses.
    private readonly PresenceActors.Persistence.SnapshotSchedule _snapshots = new(100, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(5));

    private readonly ISubscriptionGraph _graph;
    private readonly SubscriptionPoolOptions _options;
    private readonly IReadOnlyList<string> _configuredAccounts;
    private readonly IActorRef _users;
    private readonly TimeProvider _clock;
    private readonly PresenceMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _children = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>When each account last created or renewed its subscription on this singleton's watch (not journaled).</summary>
    private readonly Dictionary<string, DateTimeOffset> _lastRenewal = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset? _lastFullResync;
    private readonly HashSet<string> _pendingWatch = new(StringComparer.OrdinalIgnoreCase);

    // The members each account was last told (or started with).
    private readonly Dictionary<string, ImmutableHashSet<string>> _told = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(IActorRef Asker, string UserId)> _waitingAssignments = [];

    /// <summary>How long a burst of registrations gathers before it is placed: longer as the pool grows, so that the pass
    /// over every user stays a small share of the time.</summary>
    internal static TimeSpan WatchBatching(int users) => TimeSpan.FromMilliseconds(Math.Clamp(users / 500, 20, 250));

    /// <summary>Full resyncs asked for within this long of the last one are answered by it.</summary>
    public static readonly TimeSpan FullResyncCoalescing = TimeSpan.FromSeconds(20);
    private SubscriptionPoolState _state;
    private int _lastUnwatchedLogged = -1;

    public SubscriptionPoolActor(ISubscriptionGraph graph, SubscriptionPoolOptions options, IReadOnlyList<string> configuredAccounts,
        IActorRef users, TimeProvider clock, PresenceMetrics metrics)
    {
        _graph = graph;
        _metrics = metrics;
        _options = options;
        _configuredAccounts = configuredAccounts;
        _users = users;
        _clock = clock;
        _state = new SubscriptionPoolState { Capacity = options.Capacity };

        Recover<SnapshotOffer>(offer => _state = ((PoolSnapshot)offer.Snapshot).ToState(options.Capacity));
        Recover<PoolEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => Start());

        Command<WatchUsers>(w =>
        {
            // Registrations come in bursts (a UC back end registering 100,000 users): placing users and telling the
            // accounts costs a pass over every user, so a burst is placed in one pass rather than one pass per user.
            var before = _pendingWatch.Count;
            foreach (var id in w.UserIds.Where(id => !_state.Users.ContainsKey(id)))
                _pendingWatch.Add(id);
            if (_pendingWatch.Count > 0 && !Timers.IsTimerActive("flush-watch"))
                Timers.StartSingleTimer("flush-watch", FlushWatch.Instance, WatchBatching(_state.Users.Count));
            Reply(new CommandResult(true, $"{_pendingWatch.Count - before} user(s) added to the pool"));
        });
        Command<TellAccountsAgain>(_ => SyncChildren());
        Command<PublishKnown>(_ => PublishKnownSubscriptions());
        Command<FlushWatch>(_ =>
        {
            var fresh = _pendingWatch.Where(id => !_state.Users.ContainsKey(id)).ToImmutableArray();
            _pendingWatch.Clear();
            if (!fresh.IsEmpty)
                Record([new UsersWatched(fresh)], rebalance: true);
            DeferAsync(fresh.Length, _ => AnswerWaitingAssignments());
        });
        Command<UnwatchUsers>(u =>
        {
            foreach (var id in u.UserIds)
                _pendingWatch.Remove(id);
            var known = u.UserIds.Where(_state.Users.ContainsKey).Distinct().ToImmutableArray();
            if (!known.IsEmpty)
                Record([new UsersUnwatched(known)], rebalance: true);
            Reply(new CommandResult(true, $"{known.Length} user(s) removed from the pool"));
        });
        Command<AddAccount>(a =>
        {
            // A technical user takes one place per application (docs/graph-budget.md, "Several applications").
            var places = Places(a.Account).Where(p => !(_state.Accounts.TryGetValue(p, out var existing) && !existing.Draining)).ToList();
            if (places.Count == 0)
            {
                Reply(new CommandResult(false, $"Technical account {a.Account} is already in the pool."));
                return;
            }

            Record([.. places.Select(p => (PoolEvent)new AccountAdded(p))], rebalance: true);
            Reply(new CommandResult(true, _graph.HasCredentials(a.Account)
                ? $"Technical account {a.Account} added; users spread onto it."
                : $"Technical account {a.Account} added, but no password is configured for it on this node (azure.activedirectory.technical.users[N])."));
        });
        Command<RemoveAccount>(r =>
        {
            var places = _state.Accounts.Keys.Where(name => string.Equals(name, r.Account, StringComparison.OrdinalIgnoreCase)
                || (SubscriptionSlots.IsUsername(r.Account) && string.Equals(SubscriptionSlots.UsernameOf(name), r.Account, StringComparison.OrdinalIgnoreCase))).ToList();
            if (places.Count == 0)
            {
                Reply(new CommandResult(false, $"No technical account {r.Account} in the pool."));
                return;
            }

            Record([.. places.Select(p => (PoolEvent)new AccountDraining(p))], rebalance: true);
            Reply(new CommandResult(true, $"Technical account {r.Account} is draining: its users move, then its subscription is deleted."));
        });
        Command<ReauthorizationRequired>(r =>
        {
            var account = _state.Accounts.Values.FirstOrDefault(a => a.SubscriptionId == r.SubscriptionId);
            if (account is not null && _children.TryGetValue(account.Name, out var child))
                child.Tell(TechnicalAccountActor.Renew.Instance);
            else
                _log.Warning("reauthorization-unknown subscription={0}: no account holds it", r.SubscriptionId);
            Reply(new CommandResult(account is not null, account is not null ? "renewing" : "no account holds the subscription"));
        });
        Command<EncryptionRotated>(r =>
        {
            var renewing = 0;
            foreach (var account in _state.Accounts.Values.Where(a => a.SubscriptionId is not null))
            {
                if (!_children.TryGetValue(account.Name, out var child))
                    continue;
                child.Tell(TechnicalAccountActor.Renew.WithNewCertificate);
                renewing++;
            }

            _log.Info("encryption-rotated certificate={0}: renewing {1} subscriptions with it", r.CertificateId, renewing);
            Reply(new CommandResult(true, $"{renewing} subscriptions are being renewed with certificate {r.CertificateId}."));
        });
        Command<Resync>(r =>
        {
            if (r.UserIds.IsEmpty)
            {
                // Every surviving node asks after a member is removed: one full read answers them all.
                if (!r.Always && _lastFullResync is { } last && _clock.GetUtcNow() - last < FullResyncCoalescing)
                {
                    Reply(new CommandResult(true, "a full resync ran moments ago"));
                    return;
                }

                _lastFullResync = _clock.GetUtcNow();
                ReconcileAll();
            }
            else
            {
                foreach (var group in r.UserIds.Where(_state.Users.ContainsKey).GroupBy(id => _state.Users[id]))
                {
                    if (group.Key is { } account && _children.TryGetValue(account, out var child))
                        child.Tell(new TechnicalAccountActor.ReadUsers([.. group]));
                }
            }

            Reply(new CommandResult(true, "resync started"));
        });
        Command<GetPoolStatus>(_ => Sender.Tell(Status()));
        Command<GetAssignment>(g =>
        {
            // A user in the current burst is answered once the burst is placed.
            if (_pendingWatch.Contains(g.UserId))
                _waitingAssignments.Add((Sender, g.UserId));
            else
                Sender.Tell(new Assignment(g.UserId, _state.Users.GetValueOrDefault(g.UserId)));
        });

        Command<AccountReport.Established>(e =>
        {
            _lastRenewal[e.Account] = _clock.GetUtcNow();
            Record([new SubscriptionEstablished(e.Account, e.SubscriptionId, e.ExpiresAt, e.Members, e.ClientStateKeyId)], rebalance: false);
        });
        Command<AccountReport.Renewed>(e =>
        {
            _lastRenewal[e.Account] = _clock.GetUtcNow();
            Record([new SubscriptionRenewed(e.Account, e.ExpiresAt)], rebalance: false);
        });
        Command<AccountReport.Dropped>(e =>
        {
            var events = new List<PoolEvent> { new SubscriptionDropped(e.Account) };
            if (_state.Accounts.TryGetValue(e.Account, out var account) && account.Draining && _state.MembersOf(e.Account).IsEmpty)
                events.Add(new AccountRemoved(e.Account));
            Record(events, rebalance: false);
        });
        Command<AccountReport.Health>(h =>
        {
            if (_state.Accounts.TryGetValue(h.Account, out var account) && account.Healthy != h.Healthy)
                Record([new AccountHealthChanged(h.Account, h.Healthy, h.Problem)], rebalance: true);
        });
        Command<ReconcileTick>(_ => ReconcileAll());
        Command<SnapshotWhenQuiet>(_ =>
        {
            if (_snapshots.DueWhenQuiet())
                SaveSnapshot(PoolSnapshot.From(_state));
        });
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("pool snapshot failed: {0}", f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => "subscription-pool";

    protected override void PreStart()
    {
        _metrics.PoolStarted();
        base.PreStart();
    }

    /// <summary>The singleton moved or stopped: this node's pool gauges no longer speak for the pool.</summary>
    protected override void PostStop()
    {
        _metrics.PoolStopped();
        base.PostStop();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A technical user's places (one per application); a place named in full is itself.</summary>
    private IReadOnlyList<string> Places(string account) => SubscriptionSlots.IsUsername(account) ? _graph.SlotsOf(account) : [account];

    /// <summary>
    /// Answers a command, unless it came without a sender (the registry and the webhook tell without waiting): an answer
    /// to nobody would only show up as a dead letter.
    /// </summary>
    private void Reply(CommandResult result)
    {
        if (!Sender.IsNobody())
            Sender.Tell(result);
    }

    private void Start()
    {
        var missing = _configuredAccounts.SelectMany(Places).Where(a => !_state.Accounts.ContainsKey(a)).Select(a => (PoolEvent)new AccountAdded(a)).ToList();
        Record(missing, rebalance: true, force: true);
        Timers.StartPeriodicTimer("reconcile", ReconcileTick.Instance, _options.ReconcileEvery);
        // Published on every change, and again periodically: a node that missed a publication (it joined, or the
        // message was lost with a connection) learns the ids within this period instead of at the next change.
        Timers.StartPeriodicTimer("publish-known", PublishKnown.Instance, KnownSubscriptions.RepublishEvery);
    }

    /// <summary>
    /// Journals the events (plus the user moves they cause, computed up front so that one write holds both) and then
    /// tells every account what to watch.
    /// </summary>
    private void Record(IReadOnlyList<PoolEvent> events, bool rebalance, bool force = false)
    {
        var all = events.ToList();
        if (rebalance)
        {
            var moves = events.Aggregate(_state, (state, e) => state.Apply(e)).Rebalance();
            if (!moves.IsEmpty)
                all.Add(new UsersAssigned(moves));
        }

        if (all.Count == 0)
        {
            if (force)
                SyncChildren();
            return;
        }

        PersistAll(all, Applied);
        DeferAsync(all.Count, _ => SyncChildren());
        Timers.StartSingleTimer("snapshot-when-quiet", SnapshotWhenQuiet.Instance, _snapshots.QuietAfter);
    }

    private void Applied(PoolEvent e)
    {
        _state = _state.Apply(e);
        if (_snapshots.Due())
            SaveSnapshot(PoolSnapshot.From(_state));
    }

    private void SyncChildren()
    {
        // An account hears only of a membership that changed since it was last told: its member set is the state's own,
        // the same instance while nothing changed, so this costs the accounts, not the users.
        foreach (var (name, account) in _state.Accounts)
        {
            var desired = _state.MembersOf(name);
            var told = _told.GetValueOrDefault(name);
            var unchanged = told is not null && (ReferenceEquals(told, desired) || (told.IsEmpty && desired.IsEmpty));
            if (!_children.TryGetValue(name, out var child))
            {
                child = Context.ActorOf(TechnicalAccountActor.Props(name, account, desired, _graph, _options, _users, _clock), ChildName(name));
                _children[name] = child;
            }
            else if (!unchanged)
            {
                child.Tell(new TechnicalAccountActor.DesiredMembers(desired));
            }

            _told[name] = desired;

            if (account.Draining && desired.IsEmpty && account.SubscriptionId is null)
                Self.Tell(new AccountReport.Dropped(name));
        }

        foreach (var gone in _children.Keys.Where(k => !_state.Accounts.ContainsKey(k)).ToList())
        {
            Context.Stop(_children[gone]);
            _children.Remove(gone);
            _told.Remove(gone);
        }

        PublishKnownSubscriptions();
        ReportUnwatched();
    }

    /// <summary>Checks every subscription and reads every watched user, spread out to stay within the configured budget.</summary>
    private void ReconcileAll()
    {
        var spacing = TimeSpan.FromSeconds(30.0 / _options.ReconcileRequestsPer30Seconds);
        var slot = 0;
        foreach (var (name, child) in _children)
        {
            var requests = 1 + (_state.MembersOf(name).Count + GraphGateway.MaxIdsPerCall - 1) / GraphGateway.MaxIdsPerCall;
            Context.System.Scheduler.ScheduleTellOnce(spacing * slot, child, TechnicalAccountActor.Reconcile.Instance, Self);
            slot += requests;
        }
    }

    private static string ChildName(string account) =>
        "account-" + Uri.EscapeDataString(account.ToLowerInvariant()).Replace("%", "_");

    private void AnswerWaitingAssignments()
    {
        foreach (var (asker, userId) in _waitingAssignments)
            asker.Tell(new Assignment(userId, _state.Users.GetValueOrDefault(userId)));
        _waitingAssignments.Clear();
    }

    /// <summary>A restarted account actor starts from the members it was created with: tell every account again.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ =>
    {
        _told.Clear();
        Self.Tell(TellAccountsAgain.Instance);
        return Directive.Restart;
    });

    private sealed class PublishKnown : INoSerializationVerificationNeeded
    {
        public static readonly PublishKnown Instance = new();
    }

    private sealed class TellAccountsAgain : INoSerializationVerificationNeeded
    {
        public static readonly TellAccountsAgain Instance = new();
    }

    private sealed class FlushWatch : INoSerializationVerificationNeeded
    {
        public static readonly FlushWatch Instance = new();
    }

    private sealed class SnapshotWhenQuiet : INoSerializationVerificationNeeded
    {
        public static readonly SnapshotWhenQuiet Instance = new();
    }

    private sealed class ReconcileTick : INoSerializationVerificationNeeded
    {
        public static readonly ReconcileTick Instance = new();
    }
}
