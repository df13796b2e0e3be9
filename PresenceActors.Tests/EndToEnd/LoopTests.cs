using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>The mission end to end: Graph simulator, UC simulator and the service over HTTPS on loopback.</summary>
[Collection(Alone.Name)]
public class LoopTests : IAsyncLifetime
{
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync();

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    [Fact]
    public async Task Teams_call_in_the_graph_simulator_sets_uc_busy_and_its_end_restores_the_prior_status()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, ucStatus: "Lunch (custom)"))[0];

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "UC shows Busy");

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Lunch (custom)", what: "UC restored");

        var updates = _loop.Uc.Updates.Where(u => u.UcUserId == ucUserId).ToList();
        Assert.Equal([("Busy", "teams-call-started"), ("Lunch (custom)", "teams-call-ended")], updates.Select(u => (u.Status, u.Reason)));
        Assert.DoesNotContain(_loop.Graph.Faults.Calls, c => c.Api is "presence.set" or "presence.clear"); // a Teams call never writes to Graph
    }

    [Fact]
    public async Task Teams_call_notification_produces_the_uc_update_within_one_second()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "fast"))[0];
        var accepted = _loop.WebhookMetrics.Accepted;
        var arrived = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Uc.UpdateReceived += u =>
        {
            if (u.UcUserId == ucUserId)
                arrived.TrySetResult(u.At);
        };

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.WebhookMetrics.Accepted > accepted, what: "the notification accepted by the webhook");
        var notifiedAt = DateTimeOffset.UtcNow;
        var updateAt = await arrived.Task.WaitAsync(TimeSpan.FromSeconds(1)); // the bound: within 1 s of the notification
        Assert.True(updateAt >= notifiedAt.AddSeconds(-1));
        Assert.Equal("Busy", _loop.Uc.User(ucUserId)!.Status);
    }
}
