using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Registration;

/// <summary>
/// Which UC user is which Teams user (a persistent cluster singleton). Registering links the user's presence actor and
/// asks the pool to watch the Teams user; unregistering undoes both. A Teams user maps to one UC user at most.
/// </summary>
/// <remarks>
/// Changes are written in batches: every change that arrives while a write is in flight is checked against the state
/// including the batch and goes into the next single write, so a bulk load of 100,000 users costs a few hundred journal
/// round trips instead of 100,000. Nobody is answered before their change is journaled. Snapshots are taken by count
/// and time (<see cref="PresenceActors.Persistence.SnapshotSchedule"/>: 500 changes and 10 s apart at least), so a bulk load does
/// not write every mapping again every few hundred registrations.
/// </remarks>
public sealed class UserRegistryActor : ReceivePersistentActor
{
    private readonly PresenceActors.Persistence.SnapshotSchedule _snapshots = new(500, TimeSpan.FromSeconds(10));

    private readonly IActorRef _users;
    private readonly IActorRef _pool;
    private ImmutableDictionary<string, UserMapping> _byUc = ImmutableDictionary.Create<string, UserMapping>(StringComparer.Ordinal);
    private ImmutableDictionary<string, string> _ucByTeams = ImmutableDictionary.Create<string, string>(StringComparer.OrdinalIgnoreCase);

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

    public UserRegistryActor(IActorRef users, IActorRef pool)
    {
        _users = users;
        _pool = pool;

        Recover<SnapshotOffer>(o =>
        {
            foreach (var mapping in ((RegistrySnapshot)o.Snapshot).Mappings)
                Apply(new UserRegistered(mapping));
        });
        Recover<UserRegistered>(Apply);
        Recover<UserUnregistered>(Apply);

        Command<Register>(r =>
        {
            var mapping = r.Mapping;
            if (OwnerOf(mapping.TeamsUserId) is { } owner && owner != mapping.UcUserId)
            {
                Sender.Tell(new RegisterResult(RegistrationOutcome.Conflict, MappingOf(owner)!, owner));
                return;
            }

            var existing = MappingOf(mapping.UcUserId);
            if (existing == mapping)
            {
                var unchanged = new RegisterResult(RegistrationOutcome.Unchanged, mapping, null);
                if (_pendingByUc.ContainsKey(mapping.UcUserId))
                    Enqueue(new Pending(null, null, Sender, unchanged)); // answered once the batch that registers it is written
                else
                    Sender.Tell(unchanged);
                return;
            }

            if (existing is not null)
                Enqueue(new Pending(new UserUnregistered(existing.UcUserId), existing, null, null)); // the UC user now points at another Teams user
            Enqueue(new Pending(new UserRegistered(mapping), null, Sender, new RegisterResult(RegistrationOutcome.Registered, mapping, null)));
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
        // Lookups answer from the journaled state: a change is visible once its sender has been told it is done.
        Command<Lookup>(l => Sender.Tell(new LookupResult(_byUc.GetValueOrDefault(l.UcUserId))));
        Command<ListMappings>(_ => Sender.Tell(new MappingList([.. _byUc.Values.OrderBy(m => m.UcUserId, StringComparer.Ordinal)])));
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
            _pool.Tell(new SubscriptionPoolCommands.WatchUsers([.. _byUc.Values.Select(m => m.TeamsUserId)]), ActorRefs.NoSender);
    }

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
        if (_flushScheduled)
            return;
        // Behind whatever is already in the mailbox (including what the last write stashed), so those join this batch.
        _flushScheduled = true;
        Self.Tell(FlushBatch.Instance);
    }

    private void Flush()
    {
        _flushScheduled = false;
        if (_batch.Count == 0)
            return;
        var batch = _batch.ToArray();
        _batch.Clear();
        _pendingByUc.Clear();
        _pendingUcByTeams.Clear();

        var writes = batch.Where(p => p.Event is not null).ToArray();
        if (writes.Length == 0)
        {
            foreach (var p in batch)
                p.ReplyTo?.Tell(p.Reply!);
            return;
        }

        var written = 0;
        var watch = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var unwatch = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        // Persist (not PersistAsync): commands arriving during the write are stashed and form the next batch.
        PersistAll(writes.Select(p => p.Event!), e =>
        {
            var previous = writes[written].Previous;
            Apply(e);
            switch (e)
            {
                case UserRegistered r:
                    _users.Tell(new UserPresenceCommands.LinkUser(r.Mapping.TeamsUserId, r.Mapping.UcUserId), ActorRefs.NoSender);
                    watch.Add(r.Mapping.TeamsUserId);
                    unwatch.Remove(r.Mapping.TeamsUserId);
                    break;
                case UserUnregistered when previous is not null:
                    _users.Tell(new UserPresenceCommands.UnlinkUser(previous.TeamsUserId), ActorRefs.NoSender);
                    unwatch.Add(previous.TeamsUserId);
                    watch.Remove(previous.TeamsUserId);
                    break;
            }

            if (++written < writes.Length)
                return;
            if (unwatch.Count > 0)
                _pool.Tell(new SubscriptionPoolCommands.UnwatchUsers([.. unwatch]), ActorRefs.NoSender);
            if (watch.Count > 0)
                _pool.Tell(new SubscriptionPoolCommands.WatchUsers([.. watch]), ActorRefs.NoSender);
            foreach (var p in batch)
                p.ReplyTo?.Tell(p.Reply!);
            if (_snapshots.Due(writes.Length))
                SaveSnapshot(new RegistrySnapshot([.. _byUc.Values]));
        });
    }

    private void Apply(IUserRegistryMessage e)
    {
        switch (e)
        {
            case UserRegistered r:
                _byUc = _byUc.SetItem(r.Mapping.UcUserId, r.Mapping);
                _ucByTeams = _ucByTeams.SetItem(r.Mapping.TeamsUserId, r.Mapping.UcUserId);
                break;
            case UserUnregistered u when _byUc.TryGetValue(u.UcUserId, out var old):
                _byUc = _byUc.Remove(u.UcUserId);
                _ucByTeams = _ucByTeams.Remove(old.TeamsUserId);
                break;
        }
    }
}
