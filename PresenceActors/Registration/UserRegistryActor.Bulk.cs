using System.Collections.Immutable;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Registration;

/// <summary>
/// Registrations in batches (docs/scale.md, "Registrations in batches"): the UC back end's full list reaches the
/// registry thousands of mappings per message, and a write's consecutive registrations (or removals) are one journal
/// event, so a million users cost a few hundred messages and journal rows instead of a million of each.
/// </summary>
public sealed partial class UserRegistryActor
{
    /// <summary>Mappings per journal event at most (about 150 bytes each in JSON: a row of about 300 KB).</summary>
    public const int MappingsPerEvent = 2_000;

    private void BulkCommands()
    {
        Command<RegisterMany>(r =>
        {
            var results = r.Mappings.Select(m => Decide(m, relink: false)).ToArray();
            var answer = new RegisteredMany([.. results.Select(x => x.Outcome)], [.. results.Select(x => x.ConflictingUcUserId)]);
            Enqueue(new Pending(null, null, Sender, answer)); // answered once the batch holding its changes is journaled
        });
        Command<UnregisterMany>(u =>
        {
            var removed = 0;
            foreach (var ucUserId in u.UcUserIds.Distinct(StringComparer.Ordinal))
            {
                if (MappingOf(ucUserId) is not { } existing)
                    continue;
                Enqueue(new Pending(new UserUnregistered(ucUserId), existing, null, null));
                removed++;
            }

            Enqueue(new Pending(null, null, Sender, new UnregisteredMany(removed)));
        });
    }

    private RegistrySnapshot Snapshot() =>
        new([.. _byUc.Values], [.. _unconfirmed.Select(l => new PendingLink(l.Key, l.Value))], [.. _optedOut]);

    /// <summary>
    /// Checks one registration against the registrations including those on their way, and queues its changes for the
    /// next write. The caller answers with the result once that write is journaled (at once for a conflict).
    /// </summary>
    /// <param name="relink">Registering again what is registered links the user's actor again: a way out if a link was
    /// lost anyway (a single registration does; the full list does not, or every sync would start every user's actor).</param>
    private RegisterResult Decide(UserMapping mapping, bool relink)
    {
        if (OwnerOf(mapping.TeamsUserId) is { } owner && owner != mapping.UcUserId)
            return new RegisterResult(RegistrationOutcome.Conflict, MappingOf(owner)!, owner);

        var existing = MappingOf(mapping.UcUserId);
        if (existing == mapping)
        {
            if (relink && !OptedOut(mapping.UcUserId))
                _users.Tell(new Users.UserPresenceCommands.LinkUser(mapping.TeamsUserId, mapping.UcUserId, Acknowledge: true), Self);
            return new RegisterResult(RegistrationOutcome.Unchanged, mapping, null);
        }

        if (existing is not null)
            Enqueue(new Pending(new UserUnregistered(existing.UcUserId), existing, null, null)); // the UC user now points at another Teams user
        Enqueue(new Pending(new UserRegistered(mapping), null, null, null));
        return new RegisterResult(RegistrationOutcome.Registered, mapping, null);
    }

    /// <summary>
    /// A write's changes as journal events: runs of registrations, or of removals, become one event each once every
    /// member understands the batched events (<see cref="Cluster.Capabilities.RegistryBatches"/>); until then, during a
    /// rolling upgrade, one event per change, which a registry of the previous release can recover.
    /// </summary>
    private List<(IUserRegistryMessage Event, Pending[] Changes)> Grouped(Pending[] writes)
    {
        var batches = Cluster.Capabilities.EveryMember(Context.System, Cluster.Capabilities.RegistryBatches);
        var groups = new List<(IUserRegistryMessage, Pending[])>();
        var start = 0;
        while (start < writes.Length)
        {
            var kind = writes[start].Event!.GetType();
            var end = start + 1;
            if (batches && (kind == typeof(UserRegistered) || kind == typeof(UserUnregistered)))
            {
                while (end < writes.Length && end - start < MappingsPerEvent && writes[end].Event!.GetType() == kind)
                    end++;
            }

            var run = writes[start..end];
            groups.Add((run.Length == 1 ? run[0].Event! : kind == typeof(UserRegistered)
                ? new UsersRegistered([.. run.Select(p => ((UserRegistered)p.Event!).Mapping)])
                : new UsersUnregistered([.. run.Select(p => ((UserUnregistered)p.Event!).UcUserId)]), run));
            start = end;
        }

        return groups;
    }
}
