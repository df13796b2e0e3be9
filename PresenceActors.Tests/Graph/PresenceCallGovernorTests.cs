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
    public async Task With_the_window_spent_on_reads_a_clear_a_set_and_a_keep_alive_go_before_the_reads_that_waited_longer()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(10, clock);
        for (var i = 0; i < 10; i++)
            await governor.AcquireAsync(PresenceCallKind.Read);

        // The window is spent on reconciliation reads; ten more wait, then a keep-alive, a set and a clear arrive.
        var reads = Enumerable.Range(0, 10).Select(_ => governor.AcquireAsync(PresenceCallKind.Read)).ToList();
        var keepAlive = governor.AcquireAsync(PresenceCallKind.KeepAlive);
        var set = governor.AcquireAsync(PresenceCallKind.Set);
        var clear = governor.AcquireAsync(PresenceCallKind.Clear);
        Assert.Equal(1, governor.Waiting[PresenceCallKind.Clear]);

        // Ten places free up: the clear, the set and the keep-alive take three of them, the reads the other seven.
        clock.Advance(Slot);
        await Task.WhenAll(clear, set, keepAlive).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(7, reads.Count(r => r.IsCompletedSuccessfully));
        Assert.Equal(3, governor.Waiting[PresenceCallKind.Read]);
    }

    [Fact]
    public async Task Reads_keep_a_tenth_of_the_share_however_many_sets_wait()
    {
        var clock = new FakeTimeProvider();
        using var governor = new PresenceCallGovernor(10, clock);
        for (var i = 0; i < 10; i++)
            await governor.AcquireAsync(PresenceCallKind.Set);
        var sets = Enumerable.Range(0, 12).Select(_ => governor.AcquireAsync(PresenceCallKind.Set)).ToList();
        var reads = Enumerable.Range(0, 2).Select(_ => governor.AcquireAsync(PresenceCallKind.Read)).ToList();

        clock.Advance(Slot);
        await reads[0].WaitAsync(TimeSpan.FromSeconds(5)); // one read (a tenth of 10), then nine sets
        Assert.False(reads[1].IsCompleted);
        Assert.Equal(9, sets.Count(s => s.IsCompletedSuccessfully));
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
    public async Task Each_node_gets_an_even_share_of_the_budget()
    {
        using var governor = new PresenceCallGovernor(1500, new FakeTimeProvider());
        Assert.Equal(1500, governor.Share);
        governor.SetNodes(3);
        Assert.Equal(500, governor.Share);
        for (var i = 0; i < 500; i++)
            Assert.True(governor.AcquireAsync(PresenceCallKind.Set).IsCompletedSuccessfully);
        var waiting = governor.AcquireAsync(PresenceCallKind.Set);
        Assert.False(waiting.IsCompleted);
        governor.SetNodes(2); // a node left: the others' shares grow and what waited goes
        Assert.Equal(750, governor.Share);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        governor.SetNodes(4); // two joined: the share shrinks, and nothing more goes until the window is below it
        Assert.Equal(375, governor.Share);
        Assert.False(governor.AcquireAsync(PresenceCallKind.Clear).IsCompleted);
    }

    [Fact]
    public async Task Disposing_cancels_what_waits_none_of_which_was_sent()
    {
        var governor = new PresenceCallGovernor(1, new FakeTimeProvider());
        await governor.AcquireAsync(PresenceCallKind.Set);
        var waiting = governor.AcquireAsync(PresenceCallKind.Clear);
        governor.Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Throws<ObjectDisposedException>(() => { _ = governor.AcquireAsync(PresenceCallKind.Read); });
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
