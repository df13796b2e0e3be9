using System.Collections.Immutable;
using PresenceActors.Subscriptions;
using Xunit;

namespace PresenceActors.Tests.Subscriptions;

/// <summary>
/// The pool's index of members by account (docs/scale.md, "The pool at a million users"): whatever the events, it says
/// what a pass over every user would say, and a snapshot brings it back.
/// </summary>
public class SubscriptionPoolStateTests
{
    [Fact]
    public void The_members_by_account_always_match_the_users_through_watches_moves_drains_failures_and_a_snapshot()
    {
        var random = new Random(19);
        var state = new SubscriptionPoolState { Capacity = 50 };
        foreach (var account in new[] { "a", "b", "c", "d" })
            state = state.Apply(new AccountAdded(account));
        var next = 0;
        for (var step = 0; step < 400; step++)
        {
            PoolEvent e = random.Next(10) switch
            {
                < 4 => new UsersWatched([.. Enumerable.Range(0, random.Next(1, 30)).Select(_ => $"u{next++}")]),
                4 when state.Users.Count > 0 => new UsersUnwatched([.. state.Users.Keys.Where(_ => random.Next(8) == 0), "u-never"]),
                5 => new AccountHealthChanged("abcd"[random.Next(4)].ToString(), random.Next(3) > 0, null),
                6 => random.Next(2) == 0 ? new AccountDraining("abcd"[random.Next(4)].ToString()) : new AccountAdded("abcd"[random.Next(4)].ToString()),
                7 when random.Next(5) == 0 => new AccountRemoved("abcd"[random.Next(4)].ToString()),
                _ => new UsersAssigned(state.Rebalance()),
            };
            var before = state;
            state = state.Apply(e);
            AssertIndexed(state);
            if (e is UsersAssigned)
            {
                // The moves never overfill an account, and put users only on accounts that accept them.
                Assert.All(state.Load, l => Assert.InRange(l.Value, 0, before.Load.GetValueOrDefault(l.Key) > 50 ? int.MaxValue : 50));
                Assert.All(((UsersAssigned)e).Assignments.Values.Where(a => a is not null), a => Assert.True(state.Accounts[a!].Accepts));
            }
        }

        Assert.True(state.Users.Count > 400 && state.Unassigned.Count > 0, $"only {state.Users.Count} users: the sequence did not exercise the index");
        var copy = PoolSnapshot.From(state).ToState(50);
        AssertIndexed(copy);
        Assert.Equal(state.UnwatchedCount, copy.UnwatchedCount);
        Assert.Equal(state.Rebalance(), copy.Rebalance());
    }

    [Fact]
    public void New_users_fill_the_fullest_account_with_room_first_and_an_unchanged_account_keeps_its_member_set()
    {
        var state = new SubscriptionPoolState { Capacity = 3 };
        state = state.Apply(new AccountAdded("a")).Apply(new AccountAdded("b"));
        state = state.Apply(new UsersWatched(["u1", "u2"])).Apply(new UsersAssigned(ImmutableDictionary<string, string?>.Empty.Add("u1", "b")));
        state = state.Apply(new UsersAssigned(state.Rebalance()));
        Assert.Equal(["u1", "u2"], state.MembersOf("b").Order());
        var a = state.MembersOf("a");

        state = state.Apply(new UsersWatched(["u3", "u4", "u5"]));
        state = state.Apply(new UsersAssigned(state.Rebalance()));
        Assert.Equal(["u1", "u2", "u3"], state.MembersOf("b").Order()); // b filled first, then a
        Assert.Equal(["u4", "u5"], state.MembersOf("a").Order());

        var b = state.MembersOf("b");
        state = state.Apply(new UsersUnwatched(["u4"])).Apply(new SubscriptionRenewed("b", DateTimeOffset.UnixEpoch));
        Assert.Same(b, state.MembersOf("b")); // what the pool hands to b's actor: not told again
        Assert.NotSame(a, state.MembersOf("a"));
        Assert.Equal(0, state.UnwatchedCount);
    }

    private static void AssertIndexed(SubscriptionPoolState state)
    {
        var byAccount = state.Users.Where(u => u.Value is not null).GroupBy(u => u.Value!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Select(u => u.Key).Order().ToList(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(byAccount.Keys.Order(), state.Members.Where(m => !m.Value.IsEmpty).Select(m => m.Key).Order());
        foreach (var (account, users) in byAccount)
            Assert.Equal(users, state.MembersOf(account).Order());
        Assert.Equal(state.Users.Where(u => u.Value is null).Select(u => u.Key).Order(), state.Unassigned.Order());
        var unwatched = state.Users.Where(u => u.Value is null || !state.Accounts.TryGetValue(u.Value, out var a) || !a.Healthy).Select(u => u.Key).Order(StringComparer.Ordinal);
        Assert.Equal(unwatched, state.Unwatched);
        Assert.Equal(state.Unwatched.Count, state.UnwatchedCount);
    }
}
