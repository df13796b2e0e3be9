using Microsoft.Extensions.Time.Testing;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>U1/U2 against Graph: the keep-alive over a long UC call (on the simulator's clock) and a clear that fails first.</summary>
public class TeamsWritesTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _graphClock = new(DateTimeOffset.UtcNow);
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(graphClock: _graphClock, adjust: o => o with
    {
        Node = o.Node with
        {
            // The keep-alive fires every second of real time; the test moves Graph's clock 4 minutes per keep-alive.
            Users = o.Node.Users with { Rules = PresenceSettings.Default with { SessionRefresh = TimeSpan.FromSeconds(1), RetryDelay = TimeSpan.FromMilliseconds(200) } },
        },
    });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    [Fact]
    public async Task Uc_call_of_30_simulated_minutes_keeps_teams_busy_and_a_failed_clear_is_retried_until_it_succeeds()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "long"))[0];
        var tenant = _loop.Graph.Tenant;
        int Sets() => _loop.Graph.Faults.Calls.Count(c => c.Api == "presence.set" && c.Status == 200 && c.Path.Contains(teams.Id));

        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => Sets() == 1, what: "first setPresence");
        var simulated = TimeSpan.Zero;
        while (simulated < TimeSpan.FromMinutes(30))
        {
            var before = Sets();
            await Eventually.TrueAsync(() => Sets() > before, what: "the next keep-alive");
            _graphClock.Advance(TimeSpan.FromMinutes(4)); // 4 simulated minutes between keep-alives, within the 5-minute TTL
            simulated += TimeSpan.FromMinutes(4);
            tenant.Tick();
            var shown = tenant.GetPresence(teams.Id);
            Assert.True(shown.Activity == "InACall", $"Teams dropped the call after {simulated.TotalMinutes} simulated minutes: {shown.Availability}/{shown.Activity}");
        }

        Assert.True(Sets() >= 8);
        _loop.Graph.Faults.Add(new SimFault { Api = "presence.clear", Status = 503, Count = 2 });
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId), TimeSpan.FromSeconds(30), "our session cleared in the end");

        // The simulator changes the session before it answers, so the successful call is awaited in the log as well.
        List<int> Clears() => _loop.Graph.Faults.Calls.Where(c => c.Api == "presence.clear" && c.Path.Contains(teams.Id)).Select(c => c.Status).ToList();
        await Eventually.TrueAsync(() => Clears() is [.., 200], what: "the successful clearPresence in the call log");
        var clears = Clears();
        Assert.True(clears.Count(s => s == 503) >= 2, string.Join(",", clears));
        Assert.Equal(("Available", "Available"), (tenant.GetPresence(teams.Id).Availability, tenant.GetPresence(teams.Id).Activity));
    }
}
