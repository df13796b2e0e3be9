using PresenceActors.Persistence;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Journal write failures on PostgreSQL: the database stops while calls begin. Runs alone, because it stops the tests'
/// PostgreSQL server (<see cref="PostgresServer"/>).
/// </summary>
[Collection(Alone.Name)]
public class DatabaseOutageTests
{
    [Fact]
    public async Task PostgreSQL_gone_for_a_while_makes_the_node_not_ready_and_nothing_is_lost()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        var logs = new CapturingLoggerProvider();
        await using var loop = await Loop.StartAsync(captureLogs: logs, adjust: o => o with
        {
            Node = o.Node with { Persistence = new PresencePersistenceOptions { Provider = PersistenceProvider.PostgreSql, ConnectionString = db.ConnectionString } },
        });
        // The production reconciliation interval: the calls reach UC by the ingress log's retries, not a bulk read.
        Assert.Equal(TimeSpan.FromMinutes(10), loop.Options.ReconcileEvery);
        var users = await loop.AddUsersAsync(3, ucStatus: "Meeting", prefix: "pgdown");
        using var health = new HttpClient();
        async Task<bool> Ready() => (await health.GetAsync($"http://127.0.0.1:{loop.Ports.Admin}/healthz/ready")).IsSuccessStatusCode;
        Assert.True(await Ready());

        await PostgresServer.StopAsync();
        try
        {
            await Eventually.TrueAsync(async () => !await Ready(), TimeSpan.FromSeconds(30), "not ready without the journal");
            foreach (var (_, teams) in users)
                loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
            await FaultTests.LastsAsync(FaultTests.Outage);
            Assert.True((await health.GetAsync($"http://127.0.0.1:{loop.Ports.Admin}/healthz/live")).IsSuccessStatusCode, "the node stays alive");
        }
        finally
        {
            await PostgresServer.StartAsync();
        }

        await Eventually.TrueAsync(Ready, TimeSpan.FromSeconds(60), "ready again");
        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Busy"), TimeSpan.FromSeconds(120), "the calls begun during the outage reach UC",
            () => string.Join("\n", logs.Lines.Where(l => !l.Contains("Debug", StringComparison.Ordinal)).TakeLast(20).Select(l => l.Split('\n')[0])));
        foreach (var (_, teams) in users)
            loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Meeting"), TimeSpan.FromSeconds(30), "restored afterwards");
    }
}
