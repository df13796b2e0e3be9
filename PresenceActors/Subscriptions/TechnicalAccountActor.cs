using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Microsoft.Graph.Models.ODataErrors;
using PresenceActors.Graph;
using PresenceActors.Users;

namespace PresenceActors.Subscriptions;

/// <summary>
/// One technical user's single presence subscription: made to match the users the pool assigns (debounced, delete then
/// create, since Graph cannot edit the list), renewed before expiry, re-created when Graph lost it, and used to read
/// its users' presence in bulk. Graph calls run one at a time; other messages wait.
/// </summary>
public sealed class TechnicalAccountActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private readonly string _account;
    private readonly ISubscriptionGraph _graph;
    private readonly SubscriptionPoolOptions _options;
    private readonly IActorRef _users;
    private readonly TimeProvider _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private string? _subscriptionId;
    private DateTimeOffset? _expiresAt;
    private DateTimeOffset? _lastRenewal;

    /// <summary>Renewal requests within this long of the last renewal are answered by it.</summary>
    public static readonly TimeSpan RenewalCoalescing = TimeSpan.FromSeconds(30);
    private ImmutableHashSet<string> _subscribed;
    private ImmutableHashSet<string> _desired;

    // What this account's last reads saw of each user: a change since reaches the user even when idle (ReadRelevance).
    private readonly Users.ReadRelevance.LastReads _lastReads = new();
    private int _failures;
    private bool _healthy;

    /// <summary>
    /// The live subscription's clientState was signed with a key that is no longer presence.clientState.key: it is
    /// re-created with the current one, so that the replaced key can leave presence.clientState.previousKeys.
    /// </summary>
    private bool _staleClientState;

    /// <summary>Re-creations after a key rotation start spread over this long, not all at once (each is a delete, a create and a bulk read).</summary>
    public static readonly TimeSpan StaleClientStateSpread = TimeSpan.FromSeconds(10);

    public TechnicalAccountActor(string account, AccountState initial, ImmutableHashSet<string> desired,
        ISubscriptionGraph graph, SubscriptionPoolOptions options, IActorRef users, TimeProvider clock)
    {
        _account = account;
        _graph = graph;
        _options = options;
        _users = users;
        _clock = clock;
        _subscriptionId = initial.SubscriptionId;
        _expiresAt = initial.ExpiresAt;
        _subscribed = initial.Subscribed;
        _desired = desired;
        _healthy = initial.Healthy;
        // Re-created only when signed with a key listed as replaced (presence.clientState.previousKeys): a key this node
        // does not know as replaced (a node not yet given the new configuration in a rolling change sees the new key as
        // "next") is left alone, so that nodes of two configurations never undo each other's work. A clientState made
        // before key ids (v1) cannot say which key signed it: re-created only during a rotation, not on every upgrade.
        _staleClientState = initial.SubscriptionId is not null
                            && (initial.ClientStateKeyId is { } keyId ? options.ClientState.IsReplaced(keyId) : options.ClientState.Rotating);
        Ready();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    public static Props Props(string account, AccountState initial, ImmutableHashSet<string> desired,
        ISubscriptionGraph graph, SubscriptionPoolOptions options, IActorRef users, TimeProvider clock) =>
        Akka.Actor.Props.Create(() => new TechnicalAccountActor(account, initial, desired, graph, options, users, clock));

    protected override void PreStart()
    {
        if (_subscriptionId is not null)
            ScheduleRenewal();
        if (!_desired.SetEquals(_subscribed) || (_subscriptionId is null && !_desired.IsEmpty))
            Timers.StartSingleTimer("apply", Apply.Instance, TimeSpan.Zero);
        else if (_staleClientState)
        {
            _log.Info("subscription-client-state-stale account={0} id={1}: signed with a replaced presence.clientState.key; re-creating it", _account, _subscriptionId);
            Timers.StartSingleTimer("apply", Apply.Instance, StaleClientStateSpread * Random.Shared.NextDouble());
        }
        else if (_subscriptionId is null && _desired.IsEmpty)
            Self.Tell(Reconcile.Instance); // check its sign-in now
    }

    private DateTimeOffset Now => _clock.GetUtcNow();

    private void Ready()
    {
        Receive<DesiredMembers>(d =>
        {
            _desired = d.Members;
            _lastReads.KeepOnly(_desired);
            if (!_desired.SetEquals(_subscribed) && !Timers.IsTimerActive("apply"))
                Timers.StartSingleTimer("apply", Apply.Instance, _options.Debounce);
        });
        Receive<Apply>(_ =>
        {
            Timers.Cancel("retry");
            Run(ApplyAsync(_desired, _subscriptionId, _subscribed, _staleClientState));
        });
        Receive<Renew>(r =>
        {
            // Graph asks once per subscription; a burst of reauthorizationRequired (replayed, or queued while a renewal
            // ran) needs one renewal, not one each. A rotated certificate is sent at once.
            if (_subscriptionId is { } id && (r.Reload || _lastRenewal is not { } last || Now - last >= RenewalCoalescing))
                Run(RenewAsync(id, r.Reload));
        });
        Receive<Reconcile>(_ => Run(ReconcileAsync(_subscriptionId, _desired)));
        Receive<ReadUsers>(r => Run(ReadAsync(r.UserIds, r.Everyone ? "resync" : "new-subscription", r.Everyone)));
    }

    /// <summary>Runs one Graph operation; messages arriving meanwhile wait in the stash.</summary>
    private void Run(Task<object> operation)
    {
        operation.PipeTo(Self, failure: e => new Failed(e));
        Become(() =>
        {
            Receive<Created>(OnCreated);
            Receive<Deleted>(_ =>
            {
                SetSubscription(null, null, []);
                Context.Parent.Tell(new AccountReport.Dropped(_account));
                Succeeded();
            });
            Receive<Renewed>(r =>
            {
                _expiresAt = r.ExpiresAt;
                _lastRenewal = Now;
                Context.Parent.Tell(new AccountReport.Renewed(_account, r.ExpiresAt));
                ScheduleRenewal();
                Succeeded();
            });
            Receive<Gone>(_ =>
            {
                _log.Warning("subscription-lost account={0}: Graph no longer has subscription {1}; re-creating it", _account, _subscriptionId);
                SetSubscription(null, null, []);
                Context.Parent.Tell(new AccountReport.Dropped(_account));
                Timers.StartSingleTimer("apply", Apply.Instance, TimeSpan.Zero);
                Succeeded();
            });
            Receive<Done>(_ => Succeeded());
            Receive<Failed>(OnFailed);
            ReceiveAny(_ => Stash.Stash());
        });
    }

    private void Succeeded()
    {
        _failures = 0;
        if (!_healthy)
        {
            _healthy = true;
            Context.Parent.Tell(new AccountReport.Health(_account, true, null));
        }

        Become(Ready);
        Stash.UnstashAll();
        if ((!_desired.SetEquals(_subscribed) || _staleClientState) && !Timers.IsTimerActive("apply") && !Timers.IsTimerActive("retry"))
            Timers.StartSingleTimer("apply", Apply.Instance, _options.Debounce);
    }

    private void OnCreated(Created created)
    {
        SetSubscription(created.Info.Id, created.Info.ExpiresAt, created.Members);
        _staleClientState = false;
        Context.Parent.Tell(new AccountReport.Established(_account, created.Info.Id, created.Info.ExpiresAt, [.. created.Members], created.ClientStateKeyId));
        _log.Info("subscription-created account={0} id={1} users={2} expires={3:O}", _account, created.Info.Id, created.Members.Count, created.Info.ExpiresAt);
        ScheduleRenewal();
        Succeeded();
        // Graph cannot edit a subscription's users, so a membership change deletes it and creates another: changes of
        // any member in between were notified to nobody. A bulk read of every user it now covers (650 per call) closes
        // that gap at once, not at the next reconciliation.
        if (!created.Members.IsEmpty)
            Self.Tell(new ReadUsers([.. created.Members], Everyone: false));
    }

    private void OnFailed(Failed failed)
    {
        _failures++;
        var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks * (1L << Math.Min(_failures - 1, 16))));
        if (failed.Cause is TechnicalAccountException token)
        {
            _log.Error("account-unhealthy account={0}: {1}", _account, token.Explanation);
            if (_healthy)
            {
                _healthy = false;
                Context.Parent.Tell(new AccountReport.Health(_account, false, token.Explanation));
            }
        }
        else
        {
            _log.Warning("subscription-call-failed account={0} attempt={1}: {2}; retry in {3}", _account, _failures, failed.Cause.GetBaseException().Message, delay);
        }

        // Whatever failed is done again: making the subscription match, or (with one in place) renewing it.
        Timers.StartSingleTimer("retry", _subscriptionId is null || !_desired.SetEquals(_subscribed) || _staleClientState ? Apply.Instance : Renew.Instance, delay);
        Become(Ready);
        Stash.UnstashAll();
    }

    private void SetSubscription(string? id, DateTimeOffset? expiresAt, ImmutableHashSet<string> members)
    {
        _subscriptionId = id;
        _expiresAt = expiresAt;
        _subscribed = members;
        if (id is null)
            Timers.Cancel("renew");
    }

    private void ScheduleRenewal()
    {
        if (_expiresAt is not { } expires)
            return;
        var due = expires - _options.RenewBefore - Now;
        Timers.StartSingleTimer("renew", Renew.Instance, due < TimeSpan.Zero ? TimeSpan.Zero : due);
    }

    private async Task<object> ApplyAsync(ImmutableHashSet<string> desired, string? current, ImmutableHashSet<string> subscribed, bool staleClientState)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        if (current is not null)
        {
            if (desired.SetEquals(subscribed) && !staleClientState)
                return new Done();
            await _graph.DeleteSubscriptionAsync(_account, current, timeout.Token); // the id list cannot be edited in place
        }

        if (desired.IsEmpty)
            return new Deleted();

        var (certificate, certificateId) = await CurrentEncryptionAsync(false, timeout.Token);
        var request = new SubscriptionRequest(_options.NotificationUrl, _options.LifecycleNotificationUrl, _options.ClientState.Create(_account),
            certificate, certificateId, Now + _options.SubscriptionLifetime);
        var keyId = _options.ClientState.CurrentKeyId;
        try
        {
            return new Created(await _graph.CreateSubscriptionAsync(_account, desired, request, timeout.Token), desired, keyId);
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.Conflict)
        {
            // Graph allows one presence subscription per user and app: one we no longer know about is in the way.
            foreach (var stale in await _graph.ListSubscriptionsAsync(_account, timeout.Token))
                await _graph.DeleteSubscriptionAsync(_account, stale.Id, timeout.Token);
            return new Created(await _graph.CreateSubscriptionAsync(_account, desired, request, timeout.Token), desired, keyId);
        }
    }

    /// <summary>
    /// The certificate to name, after loading the cluster's set again: this node may have missed a rotation (the pool
    /// moved here). A store that cannot be read leaves the certificates held, still valid; after a rotation, a failure is
    /// one (the renewal is retried).
    /// </summary>
    private async Task<(System.Security.Cryptography.X509Certificates.X509Certificate2, string)> CurrentEncryptionAsync(bool rotated, CancellationToken cancellationToken)
    {
        if (_options.ReloadEncryption is { } reload)
        {
            try
            {
                await reload(cancellationToken);
            }
            catch (Exception e) when (!rotated && e is not OperationCanceledException)
            {
                _log.Warning("encryption-reload-failed account={0}: {1}; using the certificates held", _account, e.Message);
            }
        }

        return _options.Encryption();
    }

    private async Task<object> RenewAsync(string id, bool reloadEncryption)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            // Every renewal names the current certificate: a subscription made before a rotation moves to the new one.
            var (certificate, certificateId) = await CurrentEncryptionAsync(reloadEncryption, timeout.Token);
            return new Renewed(await _graph.RenewSubscriptionAsync(_account, id, Now + _options.SubscriptionLifetime, certificate, certificateId, timeout.Token));
        }
        catch (SubscriptionGoneException)
        {
            return new Gone();
        }
    }

    private async Task<object> ReconcileAsync(string? id, ImmutableHashSet<string> members)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        if (id is null && members.IsEmpty)
        {
            // An account with nobody to watch yet still signs in, so that a wrong password or an expired secret
            // shows (account-unhealthy) when it is added, not when users are first placed on it.
            await _graph.ListSubscriptionsAsync(_account, timeout.Token);
            return new Done();
        }

        if (id is not null && !await _graph.SubscriptionExistsAsync(_account, id, timeout.Token))
            return new Gone();
        if (!members.IsEmpty)
            await ReadAsync([.. members], "reconciliation", everyone: false);
        return new Done();
    }

    /// <param name="everyone">Every user read is handed on (a resync asked for these users); otherwise only those it
    /// matters to (<see cref="SubscriptionPoolOptions.ReadRelevance"/>).</param>
    private async Task<object> ReadAsync(ImmutableArray<string> userIds, string why, bool everyone)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var presences = await _graph.ReadPresencesAsync(userIds, timeout.Token);
        var forwarded = 0;
        foreach (var p in presences)
        {
            // Both asked of every user: the memory of this read must be kept even when the user matters anyway.
            var changed = _lastReads.Changed(p.UserId, p.Availability, p.Activity);
            if (!everyone && _options.ReadRelevance is { } relevance && !changed && !relevance.Matters(p.UserId, p.Availability, p.Activity))
                continue;
            forwarded++;
            _users.Tell(new UserPresenceCommands.ObserveTeamsPresence(p.UserId, p.Availability, p.Activity, p.SequenceNumber, TeamsPresenceSource.BulkRead));
        }

        _options.ReadRelevance?.Counted(forwarded, presences.Count - forwarded);
        _log.Debug("presence-read account={0} reason={1} users={2} forwarded={3}", _account, why, presences.Count, forwarded);
        return new Done();
    }

    // ---------- protocol with the pool (local, never serialized) ----------

    public sealed record DesiredMembers(ImmutableHashSet<string> Members) : INoSerializationVerificationNeeded;

    public sealed class Reconcile : INoSerializationVerificationNeeded
    {
        public static readonly Reconcile Instance = new();
    }

    public sealed class Renew : INoSerializationVerificationNeeded
    {
        public static readonly Renew Instance = new(false);

        /// <summary>After a rotation: load the node's certificates first, and do not wait for the coalescing window.</summary>
        public static readonly Renew WithNewCertificate = new(true);

        private Renew(bool reload) => Reload = reload;

        public bool Reload { get; }
    }

    /// <param name="Everyone">Hand every user read on (a resync asked for them by name): false for a new subscription's read.</param>
    public sealed record ReadUsers(ImmutableArray<string> UserIds, bool Everyone = true) : INoSerializationVerificationNeeded;

    private sealed class Apply : INoSerializationVerificationNeeded
    {
        public static readonly Apply Instance = new();
    }

    private sealed record Created(SubscriptionInfo Info, ImmutableHashSet<string> Members, string ClientStateKeyId);

    private sealed record Renewed(DateTimeOffset ExpiresAt);

    private sealed record Deleted;

    private sealed record Gone;

    private sealed record Done;

    private sealed record Failed(Exception Cause);
}

/// <summary>What an account actor tells the pool, which journals it.</summary>
public static class AccountReport
{
    public sealed record Established(string Account, string SubscriptionId, DateTimeOffset ExpiresAt, ImmutableArray<string> Members, string ClientStateKeyId)
        : INoSerializationVerificationNeeded;

    public sealed record Renewed(string Account, DateTimeOffset ExpiresAt) : INoSerializationVerificationNeeded;

    public sealed record Dropped(string Account) : INoSerializationVerificationNeeded;

    public sealed record Health(string Account, bool Healthy, string? Problem) : INoSerializationVerificationNeeded;
}
