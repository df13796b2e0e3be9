using System.Collections.Immutable;

namespace PresenceActors.Subscriptions;

/// <summary>Persisted facts of the subscription pool: a public contract, like the user events.</summary>
public abstract record PoolEvent;

public sealed record AccountAdded(string Account) : PoolEvent;

/// <summary>The account is being removed: its users move first, then its subscription goes.</summary>
public sealed record AccountDraining(string Account) : PoolEvent;

public sealed record AccountRemoved(string Account) : PoolEvent;

public sealed record AccountHealthChanged(string Account, bool Healthy, string? Problem) : PoolEvent;

public sealed record UsersWatched(ImmutableArray<string> UserIds) : PoolEvent;

public sealed record UsersUnwatched(ImmutableArray<string> UserIds) : PoolEvent;

/// <summary>Users placed on (or taken off, with a null account) technical accounts.</summary>
public sealed record UsersAssigned(ImmutableDictionary<string, string?> Assignments) : PoolEvent;

/// <param name="ClientStateKeyId">The key that signed the subscription's clientState (null: made before key ids).</param>
public sealed record SubscriptionEstablished(string Account, string SubscriptionId, DateTimeOffset ExpiresAt, ImmutableArray<string> Members,
    string? ClientStateKeyId = null) : PoolEvent;

public sealed record SubscriptionRenewed(string Account, DateTimeOffset ExpiresAt) : PoolEvent;

public sealed record SubscriptionDropped(string Account) : PoolEvent;

public sealed record AccountState
{
    public required string Name { get; init; }

    public bool Draining { get; init; }

    public bool Healthy { get; init; } = true;

    public string? Problem { get; init; }

    public string? SubscriptionId { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The users the live subscription watches (Graph cannot edit this list in place).</summary>
    public ImmutableHashSet<string> Subscribed { get; init; } = [];

    /// <summary>The key that signed the live subscription's clientState (null: made before key ids).</summary>
    public string? ClientStateKeyId { get; init; }

    public bool Accepts => Healthy && !Draining;
}

/// <summary>
/// Which technical account watches which user. Assignments are stable: a user moves only when its account drains or
/// fails; new users fill the fullest healthy account that has room; when no account has room they stay unwatched and are listed.
/// </summary>
/// <remarks>
/// Besides each user's account, the state keeps each account's members and the users on none, updated with every
/// event, so that what the pool does per event costs the users it names, not every user (docs/scale.md, "The pool at a
/// million users"): a subscription established, a burst placed or a status asked for no longer walks a million users.
/// An account's member set is handed to its actor as is; it stays the same instance while its members do not change.
/// </remarks>
public sealed record SubscriptionPoolState
{
    private static readonly ImmutableHashSet<string> NoUsers = ImmutableHashSet.Create<string>(StringComparer.OrdinalIgnoreCase);

    public int Capacity { get; init; } = 650;

    public ImmutableSortedDictionary<string, AccountState> Accounts { get; init; } =
        ImmutableSortedDictionary.Create<string, AccountState>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every user to watch, with its account (null: no account had room).</summary>
    /// <remarks>Compared as the member sets are, ignoring case, so that the index cannot hold one spelling and this the other.</remarks>
    public ImmutableDictionary<string, string?> Users { get; private init; } = ImmutableDictionary.Create<string, string?>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The users of each account named in <see cref="Users"/> (also of accounts removed and not yet emptied).</summary>
    public ImmutableDictionary<string, ImmutableHashSet<string>> Members { get; private init; } =
        ImmutableDictionary.Create<string, ImmutableHashSet<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The users on no account.</summary>
    public ImmutableHashSet<string> Unassigned { get; private init; } = NoUsers;

    /// <summary>A state holding these users (a snapshot's): the index by account is built in one pass.</summary>
    public SubscriptionPoolState WithUsers(ImmutableDictionary<string, string?> users)
    {
        var members = new Dictionary<string, ImmutableHashSet<string>.Builder>(StringComparer.OrdinalIgnoreCase);
        var unassigned = NoUsers.ToBuilder();
        var byUser = ImmutableDictionary.CreateBuilder<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (user, account) in users)
        {
            if (!byUser.TryAdd(user, account))
                continue; // a second spelling of a user (a snapshot written before users were compared ignoring case)
            if (account is null)
            {
                unassigned.Add(user);
                continue;
            }

            if (!members.TryGetValue(account, out var set))
                members[account] = set = NoUsers.ToBuilder();
            set.Add(user);
        }

        return this with
        {
            Users = byUser.ToImmutable(),
            Unassigned = unassigned.ToImmutable(),
            Members = members.ToImmutableDictionary(m => m.Key, m => m.Value.ToImmutable(), StringComparer.OrdinalIgnoreCase),
        };
    }

    public ImmutableDictionary<string, int> Load => Members.Where(m => !m.Value.IsEmpty)
        .ToImmutableDictionary(m => m.Key, m => m.Value.Count, StringComparer.OrdinalIgnoreCase);

    /// <summary>Users no healthy subscription covers: unassigned, or on an account that cannot sign in.</summary>
    public IReadOnlyList<string> Unwatched => Unassigned.Concat(Members.Where(m => !Covers(m.Key)).SelectMany(m => m.Value))
        .Order(StringComparer.Ordinal).ToList();

    /// <summary>How many users <see cref="Unwatched"/> lists, without listing them.</summary>
    public int UnwatchedCount => Unassigned.Count + Members.Where(m => !Covers(m.Key)).Sum(m => m.Value.Count);

    private bool Covers(string account) => Accounts.TryGetValue(account, out var state) && state.Healthy;

    public ImmutableHashSet<string> MembersOf(string account) => Members.GetValueOrDefault(account) ?? NoUsers;

    public SubscriptionPoolState Apply(PoolEvent e) => e switch
    {
        AccountAdded a => this with
        {
            Accounts = Accounts.ContainsKey(a.Account) ? Accounts.SetItem(a.Account, Accounts[a.Account] with { Draining = false }) : Accounts.Add(a.Account, new AccountState { Name = a.Account }),
        },
        AccountDraining d => Update(d.Account, s => s with { Draining = true }),
        AccountRemoved r => this with { Accounts = Accounts.Remove(r.Account) },
        AccountHealthChanged h => Update(h.Account, s => s with { Healthy = h.Healthy, Problem = h.Problem }),
        UsersWatched w => Place(w.UserIds.Where(id => !Users.ContainsKey(id)).Distinct().Select(id => KeyValuePair.Create(id, (string?)null)), added: true),
        UsersUnwatched u => Unplace(u.UserIds),
        UsersAssigned a => Place(a.Assignments.Where(x => Users.ContainsKey(x.Key)), added: false),
        SubscriptionEstablished s => Update(s.Account, a => a with
        {
            SubscriptionId = s.SubscriptionId, ExpiresAt = s.ExpiresAt, Subscribed = [.. s.Members], ClientStateKeyId = s.ClientStateKeyId,
        }),
        SubscriptionRenewed r => Update(r.Account, a => a with { ExpiresAt = r.ExpiresAt }),
        SubscriptionDropped d => Update(d.Account, a => a with { SubscriptionId = null, ExpiresAt = null, Subscribed = [], ClientStateKeyId = null }),
        _ => throw new ArgumentException($"Unknown pool event {e.GetType().Name}", nameof(e)),
    };

    private SubscriptionPoolState Update(string account, Func<AccountState, AccountState> change) =>
        Accounts.TryGetValue(account, out var state) ? this with { Accounts = Accounts.SetItem(account, change(state)) } : this;

    /// <summary>Puts users on accounts (null: none), taking them off where they were unless they are <paramref name="added"/>.</summary>
    private SubscriptionPoolState Place(IEnumerable<KeyValuePair<string, string?>> placements, bool added)
    {
        var users = Users.ToBuilder();
        var members = Members.ToBuilder();
        var unassigned = Unassigned.ToBuilder();
        foreach (var (user, account) in placements)
        {
            if (!added)
                Leave(user, users[user], members, unassigned);
            users[user] = account;
            if (account is null)
                unassigned.Add(user);
            else
                members[account] = (members.GetValueOrDefault(account) ?? NoUsers).Add(user);
        }

        return this with { Users = users.ToImmutable(), Members = members.ToImmutable(), Unassigned = unassigned.ToImmutable() };
    }

    private SubscriptionPoolState Unplace(IEnumerable<string> userIds)
    {
        var users = Users.ToBuilder();
        var members = Members.ToBuilder();
        var unassigned = Unassigned.ToBuilder();
        foreach (var user in userIds)
        {
            if (users.TryGetValue(user, out var account))
            {
                Leave(user, account, members, unassigned);
                users.Remove(user);
            }
        }

        return this with { Users = users.ToImmutable(), Members = members.ToImmutable(), Unassigned = unassigned.ToImmutable() };
    }

    private static void Leave(string user, string? account, ImmutableDictionary<string, ImmutableHashSet<string>>.Builder members,
        ImmutableHashSet<string>.Builder unassigned)
    {
        if (account is null)
        {
            unassigned.Remove(user);
        }
        else if (members.TryGetValue(account, out var set))
        {
            set = set.Remove(user);
            if (set.IsEmpty)
                members.Remove(account);
            else
                members[account] = set;
        }
    }

    /// <summary>
    /// The moves that put every user where it belongs: off draining or removed accounts, off failing accounts when a
    /// healthy one has room, and unassigned users onto the fullest healthy account with room. Empty when nothing moves.
    /// Costs the users that may move and the accounts, not every user.
    /// </summary>
    public ImmutableDictionary<string, string?> Rebalance()
    {
        var load = Accounts.Keys.ToDictionary(a => a, a => MembersOf(a).Count, StringComparer.OrdinalIgnoreCase);

        // The fullest account with room: a membership change re-creates a subscription (Graph cannot edit its id list),
        // so new users fill one account at a time rather than touching every subscription. Users only move onto
        // accepting accounts and only off others, so the best one stays best until it is full.
        string? best = null;
        string? Room()
        {
            if (best is not null && load[best] < Capacity)
                return best;
            best = null;
            foreach (var (name, state) in Accounts)
            {
                if (state.Accepts && load[name] < Capacity && (best is null || load[name] > load[best]))
                    best = name;
            }

            return best;
        }

        // Only users off an accepting account can move; they are placed in a stable order.
        var candidates = Unassigned.Select(u => KeyValuePair.Create(u, (string?)null))
            .Concat(Members.Where(m => !(Accounts.TryGetValue(m.Key, out var s) && s.Accepts)).SelectMany(m => m.Value.Select(u => KeyValuePair.Create(u, (string?)m.Key))))
            .ToList();
        candidates.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var moves = ImmutableDictionary.CreateBuilder<string, string?>();
        foreach (var (user, account) in candidates)
        {
            var current = account is not null && Accounts.TryGetValue(account, out var state) ? state : null;
            var target = Room();
            if (current is { Draining: false, Healthy: false } && target is null)
                continue; // stays on its failing account until one has room (or it heals)
            if (account is null && target is null)
                continue;

            if (account is not null && load.ContainsKey(account))
                load[account]--;
            if (target is not null)
                load[target]++;
            if (!string.Equals(target, account, StringComparison.OrdinalIgnoreCase))
                moves[user] = target;
        }

        return moves.ToImmutable();
    }
}

/// <summary>The pool's snapshot: its state in a plain shape for the serializer.</summary>
public sealed record PoolSnapshot(ImmutableArray<AccountState> Accounts, ImmutableDictionary<string, string?> Users) : ISubscriptionPoolMessage
{
    public static PoolSnapshot From(SubscriptionPoolState state) => new([.. state.Accounts.Values], state.Users);

    public SubscriptionPoolState ToState(int capacity) => new SubscriptionPoolState
    {
        Capacity = capacity,
        Accounts = Accounts.ToImmutableSortedDictionary(a => a.Name, a => a, StringComparer.OrdinalIgnoreCase),
    }.WithUsers(Users);
}
