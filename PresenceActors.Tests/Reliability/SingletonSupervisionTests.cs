using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// The user registry and the subscription pool are singletons that journal: when a write fails they stop, and a stopped
/// singleton used to stay gone. Supervised, each comes back and recovers whole; meanwhile the node is not ready and the
/// internal API answers 503 with a problem body, not 500.
/// </summary>
public class SingletonSupervisionTests
{
    [Fact]
    public async Task Failed_journal_writes_stop_the_registry_and_the_pool_and_both_come_back_whole()
    {
        var logs = new CapturingLoggerProvider();
        await using var loop = await Loop.StartAsync(captureLogs: logs);
        var users = await loop.AddUsersAsync(3, prefix: "supervised");
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var api = $"https://127.0.0.1:{loop.Ports.InternalApi}/api/v1/users";
        var admin = $"http://127.0.0.1:{loop.Ports.Admin}";
        var late = loop.Graph.Tenant.AddUser($"late.{Guid.NewGuid():N}@contoso.com");
        bool Failed(string persistenceId) => logs.Lines.Any(l => l.Contains("Failed to persist", StringComparison.Ordinal) && l.Contains(persistenceId, StringComparison.Ordinal));

        // Another writer holds the SQLite write lock (a backup tool, a stray sqlite3 shell) past the journal's timeouts.
        await using (await SqliteWriteLock.TakeAsync(loop))
        {
            // A registration (a registry write) and a new technical account (a pool write) meet the lock.
            using var register = new HttpRequestMessage(HttpMethod.Put, $"{api}/uc-late") { Content = JsonContent.Create(new { teamsUser = late.Id }) };
            register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
            var registering = http.SendAsync(register);
            // Its answer does not matter here (the pool may already wait on a write of its own and answer late, 503).
            using var add = new HttpRequestMessage(HttpMethod.Post, $"{admin}/admin/accounts/add") { Content = JsonContent.Create(new { account = "tech9@contoso.com" }) };
            add.Headers.Add(PresenceActors.Host.Admin.AdminAccess.CsrfHeader, "test");
            var adding = http.SendAsync(add);

            await Eventually.TrueAsync(() => Failed("user-registry") && Failed("subscription-pool"), TimeSpan.FromSeconds(90),
                "both singletons' writes failed", () => string.Join("\n", logs.Lines.Where(l => l.Contains("persist", StringComparison.OrdinalIgnoreCase)).Take(10)));

            // The registration was not taken: 503 with a problem naming why, for the UC back end to send it again.
            using var refused = await registering.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("cluster", (await refused.Content.ReadFromJsonAsync<JsonObject>())!["field"]!.GetValue<string>());
            Assert.NotNull(refused.Headers.RetryAfter);

            (await adding.WaitAsync(TimeSpan.FromSeconds(60))).Dispose();
        }

        // Both came back: the node is ready, the registry holds every registration, the pool every user and account.
        await Eventually.TrueAsync(async () => (await http.GetAsync($"{admin}/healthz/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(90), "ready again",
            () => http.GetAsync($"{admin}/healthz/ready").GetAwaiter().GetResult().Content.ReadAsStringAsync().GetAwaiter().GetResult());
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        foreach (var (ucUserId, _) in users)
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{api}/{ucUserId}")).StatusCode);
        var pool = await loop.PoolStatusAsync();
        Assert.Equal(3, pool.WatchedUsers);
        Assert.Contains(pool.Accounts, a => a.Account == "tech1@contoso.com" && a.Healthy);

        // And they work: the registration sent again is taken and watched, and a Teams call still reaches UC.
        using (var again = await http.PutAsJsonAsync($"{api}/uc-late", new { teamsUser = late.Id }))
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        await Eventually.TrueAsync(() => loop.Graph.Tenant.SubscriptionsWatching(late.Id).Count == 1, TimeSpan.FromSeconds(30), "the late user watched");
        loop.Graph.Tenant.SetClient(users[0].Teams.Id, PresenceActors.Simulators.Graph.TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(users[0].UcUserId)!.Status == "Busy", TimeSpan.FromSeconds(30), "T1 after the restarts");
    }
}
