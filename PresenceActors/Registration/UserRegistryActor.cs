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
public sealed class UserRegistryActor : ReceivePersistentActor
{
    private const int SnapshotEvery = 500;

    private readonly IActorRef _users;
    private readonly IActorRef _pool;
    private ImmutableDictionary<string, UserMapping> _byUc = ImmutableDictionary.Create<string, UserMapping>(StringComparer.Ordinal);
    private ImmutableDictionary<string, string> _ucByTeams = ImmutableDictionary.Create<string, string>(StringComparer.OrdinalIgnoreCase);

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
            if (_ucByTeams.TryGetValue(mapping.TeamsUserId, out var owner) && owner != mapping.UcUserId)
            {
                Sender.Tell(new RegisterResult(RegistrationOutcome.Conflict, _byUc[owner], owner));
                return;
            }

            if (_byUc.TryGetValue(mapping.UcUserId, out var existing) && existing == mapping)
            {
                Sender.Tell(new RegisterResult(RegistrationOutcome.Unchanged, mapping, null));
                return;
            }

            var sender = Sender;
            var events = new List<IUserRegistryMessage>();
            if (existing is not null)
                events.Add(new UserUnregistered(existing.UcUserId)); // the UC user now points at another Teams user
            events.Add(new UserRegistered(mapping));
            PersistAll(events, e =>
            {
                Apply(e);
                Announce(e, existing);
                if (e is UserRegistered)
                    sender.Tell(new RegisterResult(RegistrationOutcome.Registered, mapping, null));
            });
        });
        Command<Unregister>(u =>
        {
            if (!_byUc.TryGetValue(u.UcUserId, out var existing))
            {
                Sender.Tell(new LookupResult(null));
                return;
            }

            var sender = Sender;
            Persist(new UserUnregistered(u.UcUserId), e =>
            {
                Apply(e);
                Announce(e, existing);
                sender.Tell(new LookupResult(existing));
            });
        });
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

        if (LastSequenceNr > 0 && LastSequenceNr % SnapshotEvery == 0 && !IsRecovering)
            SaveSnapshot(new RegistrySnapshot([.. _byUc.Values]));
    }

    private void Announce(IUserRegistryMessage e, UserMapping? previous)
    {
        switch (e)
        {
            case UserRegistered r:
                _users.Tell(new UserPresenceCommands.LinkUser(r.Mapping.TeamsUserId, r.Mapping.UcUserId), ActorRefs.NoSender);
                _pool.Tell(new SubscriptionPoolCommands.WatchUsers([r.Mapping.TeamsUserId]), ActorRefs.NoSender);
                break;
            case UserUnregistered when previous is not null:
                _users.Tell(new UserPresenceCommands.UnlinkUser(previous.TeamsUserId), ActorRefs.NoSender);
                _pool.Tell(new SubscriptionPoolCommands.UnwatchUsers([previous.TeamsUserId]), ActorRefs.NoSender);
                break;
        }
    }
}
