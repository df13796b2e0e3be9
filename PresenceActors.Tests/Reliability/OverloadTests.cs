using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Ingress;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// More changes at once than the ingress backlog may hold: the webhook refuses what it cannot take (503 with Retry-After,
/// at once) and Graph sends it again, so every user still ends where Teams says. The bound is set low so that the
/// simulator's four concurrent deliveries exceed it; in production it is 50,000 items. Graph's back-off between attempts is capped at 2 s here
/// (a minute by default): with 25 items let through per round, 400 items need a dozen rounds or more, and the test is
/// about nothing being lost, not about how patient Graph is.
/// </summary>
public class OverloadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Changes_beyond_what_the_webhook_lets_wait_are_refused_redelivered_and_none_is_lost()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { Ingress = new IngressOptions { MaxBacklog = 25 } });
        loop.Graph.Delivery.MaxRetryDelay = TimeSpan.FromSeconds(2);
        var users = await loop.AddUsersAsync(400, prefix: "burst");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (_, teams) in users)
            loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Busy"), TimeSpan.FromMinutes(2), "all 400 calls reach UC",
            () => $"{users.Count(u => loop.Uc.User(u.UcUserId)!.Status == "Busy")} busy; {loop.WebhookMetrics.NotTaken} refused; " +
                  $"{loop.Graph.Delivery.FailedAttempts} failed deliveries; {loop.Graph.Delivery.WaitingToRetry} items wait to be sent again");

        output.WriteLine($"400 calls reached UC after {clock.Elapsed.TotalSeconds:F1} s: {loop.WebhookMetrics.NotTaken} items refused, " +
                         $"{loop.Graph.Delivery.FailedAttempts} deliveries failed");

        // The limit was hit: requests were refused, and Graph had to deliver again.
        Assert.True(loop.WebhookMetrics.NotTaken > 0, "no request was refused: the burst did not exceed the limit");
        Assert.True(loop.Graph.Delivery.FailedAttempts > 0, "Graph never had to deliver again");
        Assert.Equal(0, loop.Graph.Delivery.Abandoned);

        clock.Restart();
        foreach (var (_, teams) in users)
            loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Available"), TimeSpan.FromMinutes(2), "all 400 restored",
            () => $"{users.Count(u => loop.Uc.User(u.UcUserId)!.Status != "Available")} not restored");
        output.WriteLine($"400 restored {clock.Elapsed.TotalSeconds:F1} s after their calls ended");
        // Every one of the 800 changes was confirmed by its user's actor in the end.
        Assert.True(loop.WebhookMetrics.Accepted >= users.Count * 2, $"{loop.WebhookMetrics.Accepted} items confirmed");
    }
}
