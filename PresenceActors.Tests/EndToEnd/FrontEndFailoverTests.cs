using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Tests.Support;
using PresenceActors.UcFrontEnd;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>UC front ends that go away: fail-over to the next one, and nothing lost when all of them are down for a while.</summary>
public class FrontEndFailoverTests : IAsyncLifetime
{
    private const int UserCount = 500;
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync();

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    [Fact]
    public async Task Updates_fail_over_to_the_second_front_end_and_all_arrive_once_one_comes_back()
    {
        var users = await _loop.AddUsersAsync(UserCount, prefix: "fo");
        var emitter = _loop.Service.Services.GetRequiredService<UcFrontEndEmitter>();
        var tenant = _loop.Graph.Tenant;
        bool AllShow(IEnumerable<(string UcUserId, SimUser Teams)> who, string status) => who.All(u => _loop.Uc.User(u.UcUserId)!.Status == status);
        string Diagnose() =>
            $"busy={users.Count(u => _loop.Uc.User(u.UcUserId)!.Status == "Busy")} delivered={_loop.Graph.Delivery.Delivered} graphFailed={_loop.Graph.Delivery.FailedAttempts} " +
            $"received={_loop.WebhookMetrics.Received} accepted={_loop.WebhookMetrics.Accepted} " +
            $"dropped=[{string.Join(",", _loop.WebhookMetrics.Dropped.Select(d => $"{d.Key}={d.Value}"))}] sent={emitter.Sent} failed={emitter.Failed} pending={emitter.PendingUsers}";

        // The first front end is down for at least 60 s, refusing connections and then answering 503, while every
        // user's state keeps changing: every update goes to the second one.
        var down = System.Diagnostics.Stopwatch.StartNew();
        await _loop.Uc.SetModeAsync(0, FrontEndMode.Refusing);
        var rounds = 0;
        while (down.Elapsed < TimeSpan.FromSeconds(60) || rounds < 2)
        {
            if (down.Elapsed > TimeSpan.FromSeconds(30))
                await _loop.Uc.SetModeAsync(0, FrontEndMode.Failing);
            foreach (var (_, teams) in users)
                tenant.SetClient(teams.Id, TeamsClientState.InACall);
            await Eventually.TrueAsync(() => AllShow(users, "Busy"), TimeSpan.FromSeconds(60), "all 500 UC users Busy through the second front end", Diagnose);
            foreach (var (_, teams) in users)
                tenant.SetClient(teams.Id, TeamsClientState.Available);
            await Eventually.TrueAsync(() => AllShow(users, "Available"), TimeSpan.FromSeconds(60), "all 500 restored through the second front end", Diagnose);
            rounds++;
        }

        Assert.Equal(FrontEndMode.Failing, _loop.Uc.ModeOf(0));
        Assert.All(_loop.Uc.Updates.Where(u => u.UcUserId.StartsWith("fo-")), u => Assert.Equal(1, u.FrontEnd));
        Assert.Equal(rounds * 2 * UserCount, _loop.Uc.Updates.Count(u => u.UcUserId.StartsWith("fo-") && u.Applied));

        // Every front end down while users change state, some of them twice.
        await _loop.Uc.SetModeAsync(1, FrontEndMode.Failing);
        await _loop.Uc.SetModeAsync(0, FrontEndMode.Refusing);
        var failedBefore = emitter.Failed;
        foreach (var (_, teams) in users)
            tenant.SetClient(teams.Id, TeamsClientState.InACall);
        var ended = users.Where((_, i) => i % 2 == 0).ToList();
        var ongoing = users.Where((_, i) => i % 2 == 1).ToList();
        await Eventually.TrueAsync(() => emitter.PendingUsers == UserCount && emitter.Failed > failedBefore, TimeSpan.FromSeconds(60), "all 500 waiting for a front end");
        foreach (var (_, teams) in ended)
            tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(async () =>
        {
            foreach (var (_, teams) in ended.Take(20))
            {
                if ((await _loop.StateOfAsync(teams.Id)).TeamsCallActive)
                    return false;
            }

            return true;
        }, TimeSpan.FromSeconds(60), "the ended calls seen by the service");
        Assert.True(AllShow(users, "Available"), "nothing reached UC while every front end was down");

        // One comes back: each user's final status is right, none lost.
        await _loop.Uc.SetModeAsync(1, FrontEndMode.Up);
        await Eventually.TrueAsync(() => AllShow(ongoing, "Busy") && AllShow(ended, "Available"), TimeSpan.FromSeconds(90),
            "every user's final UC status once a front end is back");
        await Eventually.TrueAsync(() => emitter.PendingUsers == 0, TimeSpan.FromSeconds(30), "nothing left waiting");

        // Per user, the front end saw sequences only increase.
        foreach (var group in _loop.Uc.Updates.Where(u => u.UcUserId.StartsWith("fo-")).GroupBy(u => u.UcUserId))
        {
            var applied = group.Where(u => u.Applied).Select(u => u.Sequence).ToList();
            Assert.Equal(applied.Order(), applied);
        }
    }
}
