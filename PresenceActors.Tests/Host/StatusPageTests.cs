using System.Net;
using System.Text.Json.Nodes;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The status page's surface over HTTP: authentication, the data it draws, the live feed, no sandbox buttons in production.</summary>
public class StatusPageTests : IAsyncLifetime
{
    private const string Token = "status-page-test-token-7f3a";
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(adjust: o => o with { AdminToken = Token });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private HttpClient Client(bool followRedirects = false) =>
        new(new HttpClientHandler { AllowAutoRedirect = followRedirects, UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{_loop.Ports.Admin}/") };

    private async Task<string> SignInAsync()
    {
        using var http = Client();
        var signedIn = await http.PostAsync("status/login", new FormUrlEncodedContent([KeyValuePair.Create("token", Token)]));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        var cookie = signedIn.Headers.GetValues("Set-Cookie").Single();
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        return cookie.Split(';')[0];
    }

    [Fact]
    public async Task Page_asks_for_the_admin_token_and_its_data_needs_it()
    {
        using var http = Client();
        var page = await http.GetStringAsync("status");
        Assert.Contains("name=\"token\"", page);
        Assert.DoesNotContain("/admin/status/data", page); // the login form, not the page

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("admin/status/data")).StatusCode);
        var wrong = await http.PostAsync("status/login", new FormUrlEncodedContent([KeyValuePair.Create("token", "guess")]));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("\"field\":\"token\"", await wrong.Content.ReadAsStringAsync());
        Assert.False(wrong.Headers.Contains("Set-Cookie"));

        var cookie = await SignInAsync();
        http.DefaultRequestHeaders.Add("Cookie", cookie);
        Assert.Contains("/admin/status/data", await http.GetStringAsync("status"));
        var data = await http.GetStringAsync("admin/status/data");
        Assert.DoesNotContain(Token, data);
        Assert.DoesNotContain(Loop.ClientSecret, data);

        // The Authorization header the CLI sends works as before, and the page is not served on the public webhook port.
        using var cli = Client();
        cli.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await cli.GetAsync("admin/status/data")).StatusCode);
        using var webhookPort = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        Assert.Equal(HttpStatusCode.NotFound, (await webhookPort.GetAsync($"https://127.0.0.1:{_loop.Ports.Webhook}/status")).StatusCode);
    }

    [Fact]
    public async Task Data_shows_accounts_front_ends_and_users_side_by_side_with_their_timeline()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(2, ucStatus: "Lunch", prefix: "page"))[0];
        using var http = Client();
        http.DefaultRequestHeaders.Add("Cookie", await SignInAsync());

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "T1 on the UC side");

        JsonNode data = null!;
        await Eventually.TrueAsync(async () =>
        {
            data = JsonNode.Parse(await http.GetStringAsync("admin/status/data"))!;
            return data["pool"]?["accounts"]?[0]?["subscriptionId"] is not null && data["latency"] is not null;
        }, what: "the pool and a latency sample on the page");
        var account = data["pool"]!["accounts"]![0]!;
        Assert.Equal(650, account["capacity"]!.GetValue<int>());
        Assert.Equal(2, account["users"]!.GetValue<int>());
        Assert.Equal("green", account["health"]!.GetValue<string>());
        Assert.InRange(account["expiresInSeconds"]!.GetValue<long>(), 60, 3600);
        Assert.NotNull(account["lastRenewal"]);
        Assert.Equal(2, data["frontEnds"]!.AsArray().Count);
        Assert.All(data["frontEnds"]!.AsArray(), f => Assert.Equal("green", f!["health"]!.GetValue<string>()));
        Assert.True(data["counters"]!["ucUpdatesSent"]!.GetValue<long>() >= 1);
        Assert.True(data["ready"]!.GetValue<bool>());
        Assert.False(data["sandbox"]!.GetValue<bool>());
        Assert.Single(data["cluster"]!["members"]!.AsArray());

        var found = JsonNode.Parse(await http.GetStringAsync($"admin/status/users?q={teams.UserPrincipalName}"))!;
        Assert.Equal(1, found["total"]!.GetValue<int>());
        var user = found["users"]![0]!["user"]!;
        Assert.Equal(ucUserId, user["ucUserId"]!.GetValue<string>());
        Assert.Equal("InACall", user["teamsActivity"]!.GetValue<string>());
        Assert.Equal("Busy", user["ucStatus"]!.GetValue<string>());
        Assert.Equal("Lunch", user["ucPriorStatus"]!.GetValue<string>());
        Assert.True(user["teamsCallActive"]!.GetValue<bool>());
        Assert.Contains(user["history"]!.AsArray(), t => t!["rule"]!.GetValue<string>() == "T1");

        var everyone = JsonNode.Parse(await http.GetStringAsync("admin/status/users?q=page"))!;
        Assert.Equal(2, everyone["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Live_feed_streams_each_sync_decision_as_it_is_made()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "feed"))[0];
        using var http = Client();
        http.DefaultRequestHeaders.Add("Cookie", await SignInAsync());
        using var response = await http.GetAsync("admin/status/feed", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal(": connected", await reader.ReadLineAsync()); // subscribed before the call starts

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        JsonNode? decision = null;
        while (decision is null)
        {
            var line = await reader.ReadLineAsync(deadline.Token);
            if (line?.StartsWith("data: ", StringComparison.Ordinal) == true && JsonNode.Parse(line[6..]) is { } d && d["rule"]!.GetValue<string>() == "T1")
                decision = d;
        }

        Assert.Equal(ucUserId, decision["ucUserId"]!.GetValue<string>());
        Assert.Equal(teams.Id, decision["userId"]!.GetValue<string>());
        Assert.Equal("InACall", decision["teamsActivity"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_production_node_has_no_sandbox_controls()
    {
        using var http = Client();
        http.DefaultRequestHeaders.Add("Cookie", await SignInAsync());
        var page = await http.GetStringAsync("status");
        var csrf = System.Text.RegularExpressions.Regex.Match(page, "name=\"presence-csrf\" content=\"([^\"]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "admin/status/sandbox")
        {
            Content = new StringContent("""{"action":"teams-call","user":"uc-x","active":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(PresenceActors.Host.Admin.AdminAccess.CsrfHeader, csrf);
        var refused = await http.SendAsync(request);
        // The same signed-in caller reads the page's data: the admin surface answers it; the sandbox route is not mapped.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("admin/status/data")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Empty(await refused.Content.ReadAsByteArrayAsync());
    }
}
