using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Webhooks;

/// <summary>The decryptions' own threads (docs/decisions.md, "The webhook and the processing share the cores").</summary>
public class DecryptionLaneTests
{
    [Fact]
    public async Task Work_runs_on_the_lanes_threads_and_what_awaits_it_goes_on_elsewhere()
    {
        using var lane = new DecryptionLane(2);
        // Awaited without a synchronisation context (as the ingress log's workers await it): a continuation allowed to
        // run inline would run on the lane thread that finished the work, which must stay free for decryptions.
        var (ranOn, continuedOn) = await Task.Run(async () =>
        {
            var on = await lane.Run(() => Thread.CurrentThread.Name).ConfigureAwait(false);
            return (on, Thread.CurrentThread.Name);
        });
        Assert.StartsWith("presence-decrypt-", ranOn);
        Assert.False(continuedOn?.StartsWith("presence-decrypt-", StringComparison.Ordinal) ?? false, $"continued on {continuedOn}");
    }

    [Fact]
    public async Task Work_handed_to_a_lane_that_ended_fails_instead_of_waiting_forever()
    {
        var lane = new DecryptionLane(1);
        Assert.Equal(1, await lane.Run(() => 1));
        lane.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => lane.Run(() => 2));
    }

    [Fact]
    public async Task A_failure_faults_only_its_own_task_and_the_lane_goes_on()
    {
        using var lane = new DecryptionLane(1);
        var failed = lane.Run<int>(() => throw new System.Security.Cryptography.CryptographicException("bad key"));
        var next = lane.Run(() => 42);
        var error = await Assert.ThrowsAsync<System.Security.Cryptography.CryptographicException>(() => failed);
        Assert.Equal("bad key", error.Message);
        Assert.Equal(42, await next.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Every_thread_of_the_lane_takes_work()
    {
        using var lane = new DecryptionLane(2);
        // Two jobs that each wait for the other to have started: they finish only if two threads run them at once.
        using var both = new Barrier(2);
        var jobs = Enumerable.Range(0, 2).Select(_ => lane.Run(() => both.SignalAndWait(TimeSpan.FromSeconds(5)))).ToArray();
        Assert.All(await Task.WhenAll(jobs).WaitAsync(TimeSpan.FromSeconds(20)), Assert.True);
    }
}
