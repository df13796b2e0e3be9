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
public sealed record SubscriptionPoolState
{
    public int Capacity { get; init; } = 650;

    public ImmutableSortedDictionary<string, AccountState> Accounts { get; init; } =
        ImmutableSortedDictionary.Create<string, AccountState>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every user to watch, with its account (null: no account had room).</summary>
    public ImmutableDictionary<string, string?> Users { get; init; } = ImmutableDictionary<string, string?>.Empty;

    public ImmutableDictionary<string, int> Load => Users.Values.Where(a => a is not null)
        .GroupBy(a => a!, StringComparer.OrdinalIgnoreCase).ToImmutableDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Users no healthy subscription covers: unassigned, or on an account that cannot sign in.</summary>
    public IReadOnlyList<string> Unwatched => Users.Where(IsUnwatched).Select(u => u.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>How many users <see cref="Unwatched"/> lists, without listing them.</summary>
    public int UnwatchedCount => Users.Count(IsUnwatched);

    private bool IsUnwatched(KeyValuePair<string, string?> user) =>
        user.Value is null || !Accounts.TryGetValue(user.Value, out var account) || !account.Healthy;

    public ImmutableHashSet<string> MembersOf(string account) =>
        Users.Where(u => string.Equals(u.Value, account, StringComparison.OrdinalIgnoreCase)).Select(u => u.Key).ToImmutableHashSet();

    public SubscriptionPoolState Apply(PoolEvent e) => e switch
    {
        AccountAdded a => this with
        {
            Accounts = Accounts.ContainsKey(a.Account) ? Accounts.SetItem(a.Account, Accounts[a.Account] with { Draining = false }) : Accounts.Add(a.Account, new AccountState { Name = a.Account }),
        },
        AccountDraining d => Update(d.Account, s => s with { Draining = true }),
        AccountRemoved r => this with { Accounts = Accounts.Remove(r.Account) },
        AccountHealthChanged h => Update(h.Account, s => s with { Healthy = h.Healthy, Problem = h.Problem }),
        UsersWatched w => this with { Users = Users.SetItems(w.UserIds.Where(id => !Users.ContainsKey(id)).Select(id => KeyValuePair.Create(id, (string?)null))) },
        UsersUnwatched u => this with { Users = Users.RemoveRange(u.UserIds) },
        UsersAssigned a => this with { Users = Users.SetItems(a.Assignments.Where(x => Users.ContainsKey(x.Key))) },
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

    /// <summary>
    /// The moves that put every user where it belongs: off draining or removed accounts, off failing accounts when a
    /// healthy one has room, and unassigned users onto the fullest healthy account with room. Empty when nothing moves.
    /// </summary>
    public ImmutableDictionary<string, string?> Rebalance()
    {
        var load = Accounts.Keys.ToDictionary(a => a, a => 0, StringComparer.OrdinalIgnoreCase);
        foreach (var (_, account) in Users)
        {
            if (account is not null && load.ContainsKey(account))
                load[account]++;
        }

        var moves = ImmutableDictionary.CreateBuilder<string, string?>();
        string? Room()
        {
            string? best = null;
            foreach (var (name, state) in Accounts)
            {
                // The fullest account with room: a membership change re-creates a subscription (Graph cannot edit
                // its id list), so new users fill one account at a time rather than touching every subscription.
                if (state.Accepts && load[name] < Capacity && (best is null || load[name] > load[best]))
                    best = name;
            }

            return best;
        }

        // Only users off an accepting account can move; they are placed in a stable order (a pass over 100,000
        // users must not sort them all).
        var candidates = Users.Where(u => !(u.Value is not null && Accounts.TryGetValue(u.Value, out var s) && s.Accepts)).ToList();
        candidates.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
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

    public SubscriptionPoolState ToState(int capacity) => new()
    {
        Capacity = capacity,
        Accounts = Accounts.ToImmutableSortedDictionary(a => a.Name, a => a, StringComparer.OrdinalIgnoreCase),
        Users = Users,
    };
}
