using System.Collections.Immutable;
using Akka.Actor;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Registration;

/// <summary>
/// Leaving users out (docs/mapping.md, "Leaving a user out"): an opted-out UC user stays registered but is neither linked
/// nor watched. Unlinking winds down whatever is in progress first (the restore of a Teams call, the clear of our
/// session), then nothing more is written for them. The choice is the operator's and survives the UC back end
/// registering the user again, or removing and adding them.
/// </summary>
public sealed partial class UserRegistryActor
{
    private ImmutableHashSet<string> _optedOut = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    // Opt-outs and opt-ins in the next write (true: out), so that commands arriving meanwhile see them.
    private readonly Dictionary<string, bool> _pendingOptedOut = new(StringComparer.Ordinal);

    private void OptOutCommands()
    {
        Command<SetSynchronised>(c =>
        {
            var mapping = MappingOf(c.UcUserId);
            if (mapping is null)
            {
                Sender.Tell(new SyncSetting(null, !OptedOut(c.UcUserId)));
                return;
            }

            var answer = new SyncSetting(mapping, c.Synchronised);
            if (OptedOut(c.UcUserId) != c.Synchronised)
            {
                // Already so: answered once whatever is on its way to the journal is written.
                if (_pendingOptedOut.ContainsKey(c.UcUserId) || _pendingByUc.ContainsKey(c.UcUserId))
                    Enqueue(new Pending(null, null, Sender, answer));
                else
                    Sender.Tell(answer);
                return;
            }

            _pendingOptedOut[c.UcUserId] = !c.Synchronised;
            Enqueue(new Pending(c.Synchronised ? new UserOptedIn(c.UcUserId, c.By) : new UserOptedOut(c.UcUserId, c.By), mapping, Sender, answer));
        });
        Command<GetSynchronised>(g => Sender.Tell(new SyncSetting(_byUc.GetValueOrDefault(g.UcUserId), !_optedOut.Contains(g.UcUserId))));
        Command<ListOptedOut>(_ => Sender.Tell(new OptedOutUsers([.. _optedOut.Order(StringComparer.Ordinal)])));
    }

    private bool OptedOut(string ucUserId) =>
        _pendingOptedOut.TryGetValue(ucUserId, out var pending) ? pending : _optedOut.Contains(ucUserId);

    private void ApplyOpt(IUserRegistryMessage e)
    {
        var (ucUserId, optedOut) = e switch
        {
            UserOptedOut o => (o.UcUserId, true),
            UserOptedIn i => (i.UcUserId, false),
            _ => throw new ArgumentException($"not an opt event: {e.GetType().Name}", nameof(e)),
        };
        _optedOut = optedOut ? _optedOut.Add(ucUserId) : _optedOut.Remove(ucUserId);
        if (_byUc.TryGetValue(ucUserId, out var mapping))
            _unconfirmed = _unconfirmed.SetItem(mapping.TeamsUserId, optedOut ? null : ucUserId);
    }

    /// <summary>After an opt event is journaled: the user's actor is unlinked (or linked) and the pool told.</summary>
    private void OptChanged(IUserRegistryMessage e, HashSet<string> watch, HashSet<string> unwatch)
    {
        var ucUserId = e is UserOptedOut o ? o.UcUserId : ((UserOptedIn)e).UcUserId;
        if (!_byUc.TryGetValue(ucUserId, out var mapping))
            return;
        if (e is UserOptedOut)
        {
            SendLink(mapping.TeamsUserId, null);
            unwatch.Add(mapping.TeamsUserId);
            watch.Remove(mapping.TeamsUserId);
        }
        else
        {
            SendLink(mapping.TeamsUserId, ucUserId);
            watch.Add(mapping.TeamsUserId);
            unwatch.Remove(mapping.TeamsUserId);
        }
    }
}
