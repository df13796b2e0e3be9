using System.Net;
using System.Net.Http.Json;
using System.Text;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Faults the service must survive with nothing lost: each test injects one, checks the expected outcome while it lasts,
/// and then that every user ends where the rules say. Durations are short in CI; PRESENCE_SOAK_SECONDS lengthens the
/// outages for the soak run (docs/reliability.md).
/// </summary>
public class FaultTests : IAsyncLifetime
{
    internal static readonly TimeSpan Outage = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("PRESENCE_SOAK_SECONDS"), out var s) && s > 0 ? s : 15);

    private readonly CapturingLoggerProvider _logs = new();
    private Loop _loop = null!;

    // The production reconciliation interval (10 minutes): each test proves the retry or redelivery path it names, not
    // the bulk read that would repair it later (that safety net has its own test, SubscriptionPoolTests).
    public async Task InitializeAsync()
    {
        _loop = await Loop.StartAsync(captureLogs: _logs);
        Assert.Equal(TimeSpan.FromMinutes(10), _loop.Options.ReconcileEvery);
    }

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private bool HasOurSession(SimUser user) => _loop.Graph.Tenant.FindUser(user.Id)!.Sessions.ContainsKey(Loop.ClientId);

    /// <summary>Waits out a fault's duration without sleeping the test thread: a timer the test awaits.</summary>
    internal static async Task LastsAsync(TimeSpan duration, Func<Task>? meanwhile = null)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var end = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < end && await timer.WaitForNextTickAsync())
        {
            if (meanwhile is not null)
                await meanwhile();
        }
    }

    [Fact]
    public async Task Storm_of_5xx_and_429_on_presence_writes_delays_the_uc_calls_and_loses_none()
    {
        var users = await _loop.AddUsersAsync(5, prefix: "storm");
        _loop.Graph.Faults.Add(new SimFault { Api = "presence.set", Status = 503, Count = 12 });
        _loop.Graph.Faults.Add(new SimFault { Api = "presence.set", Status = 429, RetryAfterSeconds = 1, Count = 6 });
        _loop.Graph.Faults.Add(new SimFault { Api = "presence.clear", Status = 500, Count = 8 });

        foreach (var (ucUserId, _) in users)
            await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => users.All(u => HasOurSession(u.Teams)), TimeSpan.FromSeconds(60), "every UC call shown in Teams despite the storm");
        Assert.All(users, u => Assert.Equal("InACall", _loop.Graph.Tenant.GetPresence(u.Teams.Id).Activity));

        foreach (var (ucUserId, _) in users)
            await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => users.All(u => !HasOurSession(u.Teams)), TimeSpan.FromSeconds(60), "every session cleared despite the storm");
        var refused = _loop.Graph.Faults.Calls.Count(c => c.Api is "presence.set" or "presence.clear" && c.Status >= 429);
        Assert.Equal(26, refused); // every injected failure was met and retried past
        Assert.All(users, u => Assert.Equal(("Available", "Available"), (_loop.Graph.Tenant.GetPresence(u.Teams.Id).Availability, _loop.Graph.Tenant.GetPresence(u.Teams.Id).Activity)));
        Assert.All(users, u => Assert.Equal("Available", _loop.Uc.User(u.UcUserId)!.Status));
    }

    [Fact]
    public async Task Flapping_front_ends_lose_no_update()
    {
        var users = await _loop.AddUsersAsync(10, ucStatus: "Lunch", prefix: "flap");
        var flips = 0;
        var calls = 0;
        // Both front ends flap out of step (sometimes both are down) while calls start and end.
        await LastsAsync(TimeSpan.FromSeconds(8), async () =>
        {
            flips++;
            await _loop.Uc.SetModeAsync(flips % 2, flips % 3 == 0 ? FrontEndMode.Up : FrontEndMode.Failing);
            await _loop.Uc.SetModeAsync((flips + 1) % 2, flips % 4 == 0 ? FrontEndMode.Refusing : FrontEndMode.Up);
            var (_, teams) = users[calls % users.Count];
            _loop.Graph.Tenant.SetClient(teams.Id, calls / users.Count % 2 == 0 ? TeamsClientState.InACall : TeamsClientState.Available);
            calls++;
        });
        await _loop.Uc.SetModeAsync(0, FrontEndMode.Up);
        await _loop.Uc.SetModeAsync(1, FrontEndMode.Up);

        // Each user's last Teams state decides where UC must end: Busy in a call, the prior "Lunch" otherwise.
        string Expected(SimUser teams) => _loop.Graph.Tenant.GetPresence(teams.Id).Activity == "InACall" ? "Busy" : "Lunch";
        await Eventually.TrueAsync(() => users.All(u => _loop.Uc.User(u.UcUserId)!.Status == Expected(u.Teams)), TimeSpan.FromSeconds(60), "every user's UC status right after the flapping",
            () => string.Join(", ", users.Select(u => $"{u.UcUserId}: {_loop.Uc.User(u.UcUserId)!.Status} want {Expected(u.Teams)}")));
        Assert.True(flips >= 10 && calls >= 10);
    }

    [Fact]
    public async Task Journal_locked_by_another_writer_delays_decisions_and_loses_none()
    {
        var users = await _loop.AddUsersAsync(3, ucStatus: "Meeting", prefix: "locked");
        // Another process holds the SQLite database's write lock, as a backup tool or a stray sqlite3 shell would.
        await using (await SqliteWriteLock.TakeAsync(_loop))
        {
            foreach (var (_, teams) in users)
                _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
            // Each call reached its user's actor, which could not journal it: nothing was decided unrecorded.
            var ids = users.Select(u => PresenceActors.Users.UserPresenceActor.PersistenceIdFor(u.Teams.Id)).ToList();
            await Eventually.TrueAsync(() => ids.All(id => _logs.Lines.Any(l => l.Contains("Failed to persist", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal))),
                TimeSpan.FromSeconds(60), "every user's actor met the locked journal");
            Assert.All(users, u => Assert.Equal("Meeting", _loop.Uc.User(u.UcUserId)!.Status));
        }

        await Eventually.TrueAsync(() => users.All(u => _loop.Uc.User(u.UcUserId)!.Status == "Busy"), TimeSpan.FromSeconds(60), "T1 for everyone once the journal is writable");
        foreach (var (_, teams) in users)
            _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => users.All(u => _loop.Uc.User(u.UcUserId)!.Status == "Meeting"), TimeSpan.FromSeconds(30), "the prior status restored for everyone");
    }

    [Fact]
    public async Task Uc_reports_stamped_far_in_the_past_or_future_are_refused_and_change_nothing()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "clock"))[0];
        using var api = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
        {
            BaseAddress = new Uri($"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/"),
        };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var before = await _loop.StateOfAsync(teams.Id);
        foreach (var at in new[] { "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "9999-12-31T23:59:59Z" })
        {
            var response = await api.PostAsJsonAsync($"users/{ucUserId}/presence", new { status = "DoNotDisturb", onPhone = true, at });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.Contains("\"field\":\"at\"", problem);
            Assert.Contains("clock", problem);
        }

        var after = await _loop.StateOfAsync(teams.Id);
        Assert.Equal((before.UcCurrent, before.UcOnPhone, before.UcReportedAt, before.History.Count), (after.UcCurrent, after.UcOnPhone, after.UcReportedAt, after.History.Count));

        // A report with a sane clock still counts: the refused ones did not poison the ordering.
        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => HasOurSession(teams), what: "U1 after the refused reports");
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !HasOurSession(teams), what: "U2");
    }

    [Fact]
    public async Task Flood_of_reauthorization_events_renews_once_and_keeps_syncing()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "reauth"))[0];
        var subscription = _loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single();
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var item = $$"""{"subscriptionId":"{{subscription.Id}}","subscriptionExpirationDateTime":"{{subscription.ExpirationDateTime:O}}","tenantId":"{{_loop.Graph.Tenant.TenantId}}","clientState":"{{subscription.ClientState}}","lifecycleEvent":"reauthorizationRequired"}""";
        var body = $$"""{"value":[{{string.Join(",", Enumerable.Repeat(item, 20))}}]}""";
        for (var i = 0; i < 100; i++)
        {
            using var response = await http.PostAsync($"https://127.0.0.1:{_loop.Ports.Webhook}/graph/lifecycle", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(() => _loop.Graph.Faults.Calls.Any(c => c.Api == "subscriptions.renew"), what: "the subscription renewed");
        // Everything the flood asked for has been answered once the pool's reply to a later question arrives.
        await _loop.PoolStatusAsync();
        await Eventually.TrueAsync(() => _loop.WebhookMetrics.Accepted >= 2_000, what: "all 2,000 lifecycle items taken");
        Assert.InRange(_loop.Graph.Faults.Calls.Count(c => c.Api == "subscriptions.renew"), 1, 3);
        Assert.Equal(subscription.Id, _loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single().Id);

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "syncing after the flood");
    }
}

/// <summary>
/// The token endpoint down: Entra issues short-lived tokens here (MSAL renews within 5 minutes of expiry, so every call
/// needs the endpoint), as every cached token has run out some time into a long outage.
/// </summary>
public class TokenOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Outage = FaultTests.Outage;
    private Loop _loop = null!;

    public async Task InitializeAsync() =>
        _loop = await Loop.StartAsync(prepareGraph: g => g.TokenLifetime = TimeSpan.FromSeconds(10));

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private bool HasOurSession(SimUser user) => _loop.Graph.Tenant.FindUser(user.Id)!.Sessions.ContainsKey(Loop.ClientId);

    [Fact]
    public async Task Token_endpoint_down_holds_teams_writes_until_it_returns_and_loses_none()
    {
        var users = await _loop.AddUsersAsync(3, prefix: "token");
        _loop.Graph.Faults.Add(new SimFault { Api = "token", Status = 503 });

        var (inCall, teams) = users[0];
        await _loop.Uc.SetPhoneAsync(inCall, true); // needs Graph: waits
        _loop.Graph.Tenant.SetClient(users[1].Teams.Id, TeamsClientState.InACall); // Teams to UC needs no token: goes through
        await Eventually.TrueAsync(() => _loop.Uc.User(users[1].UcUserId)!.Status == "Busy", what: "T1 during the token outage");
        await FaultTests.LastsAsync(Outage);
        Assert.False(HasOurSession(teams));
        Assert.True(_loop.Graph.Faults.Calls.Count(c => c.Api == "token" && c.Status == 503) >= 2, "the service kept asking for a token");

        _loop.Graph.Faults.Clear();
        await Eventually.TrueAsync(() => HasOurSession(teams), TimeSpan.FromSeconds(90), "the held setPresence once tokens are issued again");
        await _loop.Uc.SetPhoneAsync(inCall, false);
        _loop.Graph.Tenant.SetClient(users[1].Teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => !HasOurSession(teams) && _loop.Uc.User(users[1].UcUserId)!.Status == "Available", TimeSpan.FromSeconds(60), "both calls ended cleanly");
        var pool = await _loop.PoolStatusAsync();
        Assert.All(pool.Accounts, a => Assert.True(a.Healthy, $"{a.Account}: {a.Problem}"));
    }

}
