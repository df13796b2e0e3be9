using Microsoft.Extensions.Time.Testing;
using PresenceActors.Graph;
using Xunit;

namespace PresenceActors.Tests.Graph;

/// <summary>The presence-call governor on a fake clock: the sliding window, the order of waiting calls, withdrawals, shares.</summary>
public class PresenceCallGovernorTests
{
    private static readonly TimeSpan Slot = TimeSpan.FromSeconds(31);

    [Fact]
    public async Task Calls_go_at_once_within_the_share_and_wait_beyond_it_until_the_window_frees_up()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(10, clock);
        for (var i = 0; i < 10; i++)
            Assert.True(governor.AcquireAsync(PresenceCallKind.Set).IsCompletedSuccessfully);
        Assert.Equal(10, governor.InUse);

        var eleventh = governor.AcquireAsync(PresenceCallKind.Set);
        Assert.False(eleventh.IsCompleted);
        clock.Advance(Slot - TimeSpan.FromMilliseconds(1));
        Assert.False(eleventh.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await eleventh.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((11L, 1L), governor.Totals);
    }

    [Fact]
    public async Task A_clear_goes_before_new_calls_keep_alives_and_reads_that_waited_longer()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(1, clock);
        await governor.AcquireAsync(PresenceCallKind.Read);

        // The budget is spent on a reconciliation read; then calls of every kind wait, the clear last to arrive.
        var waiting = new[] { PresenceCallKind.Read, PresenceCallKind.KeepAlive, PresenceCallKind.Set, PresenceCallKind.Clear }
            .ToDictionary(k => k, k => governor.AcquireAsync(k));
        Assert.Equal(1, governor.Waiting[PresenceCallKind.Clear]);

        // One slot frees up per window: they go one at a time, most urgent first.
        foreach (var expected in new[] { PresenceCallKind.Clear, PresenceCallKind.Set, PresenceCallKind.KeepAlive, PresenceCallKind.Read })
        {
            clock.Advance(Slot);
            await waiting[expected].WaitAsync(TimeSpan.FromSeconds(5));
            Assert.All(waiting.Where(w => w.Key > expected), w => Assert.False(w.Value.IsCompleted, $"{w.Key} went before {expected}"));
        }
    }

    [Fact]
    public async Task A_newcomer_does_not_overtake_a_more_urgent_waiting_call_but_a_more_urgent_one_waits_only_for_room()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(2, clock);
        await governor.AcquireAsync(PresenceCallKind.Set);
        await governor.AcquireAsync(PresenceCallKind.Set);
        var clear = governor.AcquireAsync(PresenceCallKind.Clear);
        var read = governor.AcquireAsync(PresenceCallKind.Read);
        clock.Advance(Slot);
        await clear.WaitAsync(TimeSpan.FromSeconds(5));
        await read.WaitAsync(TimeSpan.FromSeconds(5)); // both slots freed: both go, the clear first
        Assert.Equal(2, governor.InUse);
    }

    [Fact]
    public async Task A_call_withdrawn_while_it_waits_is_never_let_go_and_costs_nothing()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(1, clock);
        await governor.AcquireAsync(PresenceCallKind.Set);
        using var withdraw = new CancellationTokenSource();
        var set = governor.AcquireAsync(PresenceCallKind.Set, withdraw.Token);
        var read = governor.AcquireAsync(PresenceCallKind.Read);
        await withdraw.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => set);

        clock.Advance(Slot);
        await read.WaitAsync(TimeSpan.FromSeconds(5)); // the withdrawn set's place went to the read
        Assert.Equal((2L, 2L), governor.Totals);
        Assert.Equal(1, governor.InUse);
    }

    [Fact]
    public void Each_node_gets_an_even_share_of_the_budget()
    {
        using var governor = new PresenceCallGovernor(1500, new FakeTimeProvider());
        Assert.Equal(1500, governor.Share);
        governor.SetNodes(3);
        Assert.Equal(500, governor.Share);
        for (var i = 0; i < 500; i++)
            Assert.True(governor.AcquireAsync(PresenceCallKind.Set).IsCompletedSuccessfully);
        Assert.False(governor.AcquireAsync(PresenceCallKind.Set).IsCompleted);
        governor.SetNodes(2); // a node left: the others' shares grow and what waited goes
        Assert.Equal(750, governor.Share);
        Assert.Equal(0, governor.Waiting[PresenceCallKind.Set]);
    }

    [Fact]
    public async Task A_keep_alive_close_to_its_sessions_end_goes_before_new_calls()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(1, clock);
        await governor.AcquireAsync(PresenceCallKind.Set);
        var set = governor.AcquireAsync(PresenceCallKind.Set);
        var keepAlive = governor.AcquireAsync(PresenceCallKind.KeepAlive, urgentAt: clock.GetUtcNow() + TimeSpan.FromSeconds(20));
        clock.Advance(Slot);
        await keepAlive.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(set.IsCompleted);
        clock.Advance(Slot);
        await set.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
