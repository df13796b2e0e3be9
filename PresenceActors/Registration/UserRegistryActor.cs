using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Registration;

/// <summary>
/// Which UC user is which Teams user (a persistent cluster singleton). Registering asks the pool to watch the Teams user;
/// the user's presence actor is not started for it, but asks for its link on its first event (docs/scale.md, "Lazy user
/// actors"). Unregistering, leaving out and taking back unlink or link the actor at once. A Teams user maps to one UC
/// user at most. Links are never lost: each is acknowledged by the user's actor once journaled and sent again every
/// <see cref="ResendLinksEvery"/> until then (a node that died with the message, a shard moving); confirmations are
/// journaled in batches, so a registry that restarts re-sends exactly the links not yet confirmed.
/// </summary>
/// <remarks>
/// Changes are written in batches: every change that arrives while a write is in flight is checked against the state
/// including the batch and goes into the next single write, so a bulk load of 100,000 users costs a few hundred journal
/// round trips instead of 100,000, and consecutive registrations (or removals) of one write are one journal event of up
/// to <see cref="MappingsPerEvent"/> (docs/scale.md, "Registrations in batches"). Nobody is answered before their change
/// is journaled. Snapshots are taken when the load is quiet (<see cref="PresenceActors.Persistence.SnapshotSchedule"/>:
/// 5 s without a write, or 5 minutes apart under a load that never pauses), so a bulk load does not write every mapping
/// again every few hundred registrations.
/// </remarks>
public sealed partial class UserRegistryActor : ReceivePersistentActor, IWithTimers
{
    /// <summary>How often links not yet confirmed are sent again.</summary>
    public static readonly TimeSpan ResendLinksEvery = TimeSpan.FromSeconds(5);

    /// <summary>At most this many links are sent again per round (a registry recovering a large backlog spreads it out).</summary>
    public const int ResendLinksAtOnce = 2_000;

    private readonly PresenceActors.Persistence.SnapshotSchedule _snapshots = new(500, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(5));

    private readonly IActorRef _users;
    private readonly IActorRef _pool;
    private ImmutableDictionary<string, UserMapping> _byUc = ImmutableDictionary.Create<string, UserMapping>(StringComparer.Ordinal);
    private ImmutableDictionary<string, string> _ucByTeams = ImmutableDictionary.Create<string, string>(StringComparer.OrdinalIgnoreCase);

    // The mappings by UC user id for paging through them (ListMappings): made again after a change when a listing
    // starts (its first page), and kept for the pages after it, so that while registrations go on a million mappings
    // are sorted once per listing, not once per page. A listing shows every change made before it started.
    private ImmutableArray<UserMapping>? _sorted;
    private bool _sortedStale = true;

    // Links asked of users' actors and not yet confirmed (journaled), and replies that matched, waiting for the next write.
    private ImmutableDictionary<string, string?> _unconfirmed = ImmutableDictionary.Create<string, string?>(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string?> _confirming = new(StringComparer.OrdinalIgnoreCase);

    // When each unconfirmed link was last sent (not journaled: after a restart every unconfirmed link is due).
    private readonly Dictionary<string, long> _lastSent = new(StringComparer.OrdinalIgnoreCase);

    // The next write: its changes, and the state they lead to over the journaled one (null = removed).
    private readonly List<Pending> _batch = [];
    private readonly Dictionary<string, UserMapping?> _pendingByUc = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _pendingUcByTeams = new(StringComparer.OrdinalIgnoreCase);
    private bool _flushScheduled;

    private sealed record Pending(IUserRegistryMessage? Event, UserMapping? Previous, IActorRef? ReplyTo, object? Reply);

    private sealed class FlushBatch
    {
        public static readonly FlushBatch Instance = new();
    }

    private sealed class SnapshotWhenQuiet
    {
        public static readonly SnapshotWhenQuiet Instance = new();
    }

    private sealed class ResendLinks
    {
        public static readonly ResendLinks Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public UserRegistryActor(IActorRef users, IActorRef pool)
    {
        _users = users;
        _pool = pool;

        Recover<SnapshotOffer>(o =>
        {
            var snapshot = (RegistrySnapshot)o.Snapshot;
            foreach (var mapping in snapshot.Mappings)
                Apply(new UserRegistered(mapping));
            _unconfirmed = _unconfirmed.Clear().SetItems((snapshot.Unconfirmed ?? []).Select(l => KeyValuePair.Create(l.TeamsUserId, l.UcUserId)));
            _optedOut = _optedOut.Clear().Union(snapshot.OptedOut ?? []);
        });
        Recover<UserRegistered>(Apply);
        Recover<UserUnregistered>(Apply);
        Recover<UsersRegistered>(Apply);
        Recover<UsersUnregistered>(Apply);
        Recover<LinksConfirmed>(Apply);
        Recover<UserOptedOut>(Apply);
        Recover<UserOptedIn>(Apply);
        OptOutCommands();
        BulkCommands();

        Command<Register>(r =>
        {
            var result = Decide(r.Mapping, r.Relink);
            // A registration is answered once journaled; so is an unchanged one whose registration is on its way.
            if (result.Outcome == RegistrationOutcome.Registered || (result.Outcome == RegistrationOutcome.Unchanged && _pendingByUc.ContainsKey(r.Mapping.UcUserId)))
                Enqueue(new Pending(null, null, Sender, result));
            else
                Sender.Tell(result);
        });
        Command<Unregister>(u =>
        {
            if (MappingOf(u.UcUserId) is not { } existing)
            {
                Sender.Tell(new LookupResult(null));
                return;
            }

            Enqueue(new Pending(new UserUnregistered(u.UcUserId), existing, Sender, new LookupResult(existing)));
        });
        Command<FlushBatch>(_ => Flush());
        Command<SnapshotWhenQuiet>(_ =>
        {
            if (_snapshots.DueWhenQuiet())
                SaveSnapshot(Snapshot());
        });
        Command<UserPresenceCommands.LinkState>(OnLinkState);
        Command<ResendLinks>(_ => Resend());
        // Lookups answer from the journaled state: a change is visible once its sender has been told it is done.
        Command<Lookup>(l => Sender.Tell(new LookupResult(_byUc.GetValueOrDefault(l.UcUserId), !_optedOut.Contains(l.UcUserId))));
        Command<ListMappings>(l => Sender.Tell(RegistryPages.Page(Sorted(startsListing: l.After is null), l.After)));
        Command<GetUnconfirmedLinks>(_ => Sender.Tell(new UnconfirmedLinks(_unconfirmed.Count)));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => "user-registry";

    protected override void OnReplaySuccess()
    {
        // Make sure everyone registered is watched and linked (idempotent), e.g. after a pool that lost its journal.
        if (!_byUc.IsEmpty)
            TellPool(_byUc.Values.Where(m => !_optedOut.Contains(m.UcUserId)).Select(m => m.TeamsUserId), watch: true, evenIfNone: true);
        // And that nobody left out is still watched (an unwatch lost with a node that went down).
        if (_byUc.Values.Any(m => _optedOut.Contains(m.UcUserId)))
            TellPool(_byUc.Values.Where(m => _optedOut.Contains(m.UcUserId)).Select(m => m.TeamsUserId), watch: false);
        // Links not confirmed before the registry stopped (its node died with them in flight): sent again now.
        Timers.StartPeriodicTimer("resend-links", ResendLinks.Instance, ResendLinksEvery);
        Resend();
    }

    private void OnLinkState(UserPresenceCommands.LinkState state)
    {
        if (!_unconfirmed.TryGetValue(state.UserId, out var asked))
        {
            // Not asked: a user's actor telling its link, on its first event (it has none yet) or after it linked itself
            // from a UC report. Put right what differs from the registrations; tracked like any link until confirmed, in
            // memory only: an actor whose link is lost with a registry that moves asks again on a later event.
            var desired = OwnerOf(state.UserId) is { } owner && !OptedOut(owner) ? owner : null;
            if (desired == state.UcUserId)
                return;
            _unconfirmed = _unconfirmed.SetItem(state.UserId, desired);
            SendLink(state.UserId, desired);
            return;
        }

        if (asked != state.UcUserId)
        {
            // The actor's link differs from the one asked: an answer to an older request, or an actor that linked itself
            // since it answered (a UC report looked up before the user was removed or left out). A confirmation on its
            // way to the journal is no longer true, and the link asked is sent again at once.
            if (_confirming.TryGetValue(state.UserId, out var confirming) && confirming != state.UcUserId)
                _confirming.Remove(state.UserId);
            SendLink(state.UserId, asked);
            return;
        }

        if (_confirming.ContainsKey(state.UserId))
            return; // already on its way to the journal
        _confirming[state.UserId] = state.UcUserId;
        ScheduleFlush();
    }

    /// <summary>Sends the user's link when a change of it is on its way (a registration alone sends nothing: lazy).</summary>
    private void SendLinkIfChanging(string teamsUserId)
    {
        if (_unconfirmed.TryGetValue(teamsUserId, out var link))
            SendLink(teamsUserId, link);
    }

    private ImmutableArray<UserMapping> Sorted(bool startsListing)
    {
        if (_sorted is null || (_sortedStale && startsListing))
        {
            _sorted = [.. _byUc.Values.OrderBy(m => m.UcUserId, StringComparer.Ordinal)];
            _sortedStale = false;
        }

        return _sorted.Value;
    }

    /// <summary>Sends again the unconfirmed links sent longer than <see cref="ResendLinksEvery"/> ago (a bulk load's fresh ones wait).</summary>
    private void Resend()
    {
        foreach (var confirmed in _lastSent.Keys.Where(id => !_unconfirmed.ContainsKey(id)).ToList())
            _lastSent.Remove(confirmed);
        var due = Environment.TickCount64 - (long)ResendLinksEvery.TotalMilliseconds;
        foreach (var (teamsUserId, ucUserId) in _unconfirmed
                     .Where(l => !_confirming.ContainsKey(l.Key) && (!_lastSent.TryGetValue(l.Key, out var sent) || sent <= due))
                     .Take(ResendLinksAtOnce))
            SendLink(teamsUserId, ucUserId);
    }

    private void SendLink(string teamsUserId, string? ucUserId)
    {
        _lastSent[teamsUserId] = Environment.TickCount64;
        _users.Tell(ucUserId is null
            ? new UserPresenceCommands.UnlinkUser(teamsUserId, Acknowledge: true)
            : new UserPresenceCommands.LinkUser(teamsUserId, ucUserId, Acknowledge: true), Self);
    }

    /// <summary>Users to watch or let go, told to the pool in messages that fit one remoting frame (docs/scale.md, "Messages of bounded size").</summary>
    /// <param name="evenIfNone">Tell it even with nobody to name (after recovery: the pool hears the registry is back).</param>
    private void TellPool(IEnumerable<string> teamsUserIds, bool watch, bool evenIfNone = false)
    {
        var told = false;
        foreach (var chunk in teamsUserIds.Chunk(PoolMessageUsers))
        {
            _pool.Tell(watch ? new SubscriptionPoolCommands.WatchUsers([.. chunk]) : new SubscriptionPoolCommands.UnwatchUsers([.. chunk]), ActorRefs.NoSender);
            told = true;
        }

        if (!told && evenIfNone)
            _pool.Tell(watch ? new SubscriptionPoolCommands.WatchUsers([]) : new SubscriptionPoolCommands.UnwatchUsers([]), ActorRefs.NoSender);
    }

    /// <summary>Users per message to the pool: Entra object ids, 39 bytes each in JSON, so about 80 KB.</summary>
    public const int PoolMessageUsers = 2_000;

    private UserMapping? MappingOf(string ucUserId) =>
        _pendingByUc.TryGetValue(ucUserId, out var pending) ? pending : _byUc.GetValueOrDefault(ucUserId);

    private string? OwnerOf(string teamsUserId) =>
        _pendingUcByTeams.TryGetValue(teamsUserId, out var pending) ? pending : _ucByTeams.GetValueOrDefault(teamsUserId);

    private void Enqueue(Pending pending)
    {
        switch (pending.Event)
        {
            case UserRegistered r:
                _pendingByUc[r.Mapping.UcUserId] = r.Mapping;
                _pendingUcByTeams[r.Mapping.TeamsUserId] = r.Mapping.UcUserId;
                break;
            case UserUnregistered u:
                _pendingByUc[u.UcUserId] = null;
                _pendingUcByTeams[pending.Previous!.TeamsUserId] = null;
                break;
        }

        _batch.Add(pending);
        ScheduleFlush();
    }

    private void ScheduleFlush()
    {
        if (_flushScheduled)
            return;
        // Behind whatever is already in the mailbox (including what the last write stashed), so those join this batch.
        _flushScheduled = true;
        Self.Tell(FlushBatch.Instance);
    }

    private void Flush()
    {
        _flushScheduled = false;
        if (_confirming.Count > 0)
        {
            // The confirmations since the last write, as one event before the batch's changes: they answer links asked
            // before those changes, and must not confirm a newer link of the same user that the batch asks again.
            _batch.Insert(0, new Pending(new LinksConfirmed([.. _confirming.Select(c => new PendingLink(c.Key, c.Value))]), null, null, null));
            _confirming.Clear();
        }

        if (_batch.Count == 0)
            return;
        var batch = _batch.ToArray();
        _batch.Clear();
        _pendingByUc.Clear();
        _pendingUcByTeams.Clear();
        _pendingOptedOut.Clear();

        var writes = batch.Where(p => p.Event is not null).ToArray();
        if (writes.Length == 0)
        {
            foreach (var p in batch)
                p.ReplyTo?.Tell(p.Reply!);
            return;
        }

        var groups = Grouped(writes);
        var written = 0;
        var watch = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var unwatch = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        // Persist (not PersistAsync): commands arriving during the write are stashed and form the next batch.
        // Each event's own changes (found by the event: a rejected event's handler is not called, and the others stay right).
        var changesOf = groups.ToDictionary(g => (object)g.Event, g => g.Changes, ReferenceEqualityComparer.Instance);
        PersistAll(groups.Select(g => g.Event), e =>
        {
            foreach (var change in changesOf[e])
                Applied(change, watch, unwatch);
            if (++written < groups.Count)
                return;
            if (unwatch.Count > 0)
                TellPool(unwatch, watch: false);
            if (watch.Count > 0)
                TellPool(watch, watch: true);
            foreach (var p in batch)
                p.ReplyTo?.Tell(p.Reply!);
            if (_snapshots.Due(writes.Length))
                SaveSnapshot(Snapshot());
            Timers.StartSingleTimer("snapshot-when-quiet", SnapshotWhenQuiet.Instance, _snapshots.QuietAfter);
        });
    }

    /// <summary>One change of a write, journaled: applied, and its effects on links and on the pool gathered.</summary>
    private void Applied(Pending change, HashSet<string> watch, HashSet<string> unwatch)
    {
        var e = change.Event!;
        Apply(e);
        switch (e)
        {
            case UserRegistered r when _optedOut.Contains(r.Mapping.UcUserId):
                // Registered (the UC back end's list) but left out: neither linked nor watched.
                SendLinkIfChanging(r.Mapping.TeamsUserId);
                unwatch.Add(r.Mapping.TeamsUserId);
                watch.Remove(r.Mapping.TeamsUserId);
                break;
            case UserRegistered r:
                SendLinkIfChanging(r.Mapping.TeamsUserId);
                watch.Add(r.Mapping.TeamsUserId);
                unwatch.Remove(r.Mapping.TeamsUserId);
                break;
            case UserOptedOut or UserOptedIn:
                OptChanged(e, watch, unwatch);
                break;
            case UserUnregistered when change.Previous is not null:
                SendLink(change.Previous.TeamsUserId, null);
                unwatch.Add(change.Previous.TeamsUserId);
                watch.Remove(change.Previous.TeamsUserId);
                break;
        }
    }

    private void Apply(IUserRegistryMessage e)
    {
        if (e is UserRegistered or UserUnregistered or UsersRegistered or UsersUnregistered)
            _sortedStale = true;
        switch (e)
        {
            case UserRegistered r:
                _byUc = _byUc.SetItem(r.Mapping.UcUserId, r.Mapping);
                _ucByTeams = _ucByTeams.SetItem(r.Mapping.TeamsUserId, r.Mapping.UcUserId);
                // Lazy (docs/scale.md, "Lazy user actors"): the user's actor asks for its link on its first event, so a
                // registration starts no actor. Only a change of link still on its way is replaced by the newest one.
                if (_unconfirmed.ContainsKey(r.Mapping.TeamsUserId))
                    _unconfirmed = _unconfirmed.SetItem(r.Mapping.TeamsUserId, _optedOut.Contains(r.Mapping.UcUserId) ? null : r.Mapping.UcUserId);
                break;
            case UserOptedOut or UserOptedIn:
                ApplyOpt(e);
                break;
            case UsersRegistered many:
                foreach (var mapping in many.Mappings)
                    Apply(new UserRegistered(mapping));
                break;
            case UsersUnregistered many:
                foreach (var ucUserId in many.UcUserIds)
                    Apply(new UserUnregistered(ucUserId));
                break;
            case UserUnregistered u when _byUc.TryGetValue(u.UcUserId, out var old):
                _byUc = _byUc.Remove(u.UcUserId);
                _ucByTeams = _ucByTeams.Remove(old.TeamsUserId);
                _unconfirmed = _unconfirmed.SetItem(old.TeamsUserId, null);
                break;
            case LinksConfirmed c:
                // Only what is still asked: a newer change of the same user stays to be confirmed.
                foreach (var link in c.Links)
                {
                    if (_unconfirmed.TryGetValue(link.TeamsUserId, out var asked) && asked == link.UcUserId)
                        _unconfirmed = _unconfirmed.Remove(link.TeamsUserId);
                }

                break;
        }
    }
}
