using System.Collections.Concurrent;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>
/// Which users a bulk presence read (a subscription's first read, the reconciliation, a resync) must reach, so that it
/// starts no actor for nothing (docs/scale.md, "Lazy user actors"): a user holding work (<see cref="WorkInFlight"/>), a
/// user Teams shows in a state that crosses to UC (by the cluster's table or the configured one), and a user whose
/// presence changed since the same account's last read. Everyone else is idle and shown as before: the read would change
/// nothing in their state that matters.
/// </summary>
public sealed class ReadRelevance(Mapping.PresenceRulesSource rules, WorkInFlight inFlight, PresenceMetrics? metrics = null)
{
    /// <summary>One read handed on: how many users it reached and how many it left alone.</summary>
    public void Counted(int forwarded, int leftIdle) => metrics?.OnBulkRead(forwarded, leftIdle);

    public bool Matters(string userId, string availability, string activity)
    {
        if (inFlight.Contains(userId) || string.IsNullOrWhiteSpace(availability) || string.IsNullOrWhiteSpace(activity))
            return true; // what cannot be judged here is handed on, and the user's actor decides, as it always did
        var presence = TeamsPresence.Parse(availability, activity, null);
        return rules.Cluster.UcStatusFor(presence) is not null || rules.Configured.UcStatusFor(presence) is not null;
    }

    /// <summary>One account's memory of what its last read saw of each user (availability and activity, as one string).</summary>
    public sealed class LastReads
    {
        private readonly ConcurrentDictionary<string, string> _seen = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Remembers what was read; true when it differs from what the read before saw (false the first time).</summary>
        public bool Changed(string userId, string availability, string activity)
        {
            var now = string.Intern(availability + "/" + activity); // a handful of values, held by 100,000s of users
            var before = _seen.GetValueOrDefault(userId);
            _seen[userId] = now;
            return before is not null && !string.Equals(before, now, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>Forgets users no longer on the account.</summary>
        public void KeepOnly(System.Collections.Immutable.ImmutableHashSet<string> members)
        {
            foreach (var userId in _seen.Keys.Where(id => !members.Contains(id)).ToList())
                _seen.TryRemove(userId, out _);
        }
    }
}
