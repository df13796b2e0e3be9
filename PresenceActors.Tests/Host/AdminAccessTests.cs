using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PresenceActors.Host.Admin;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// Who may use the admin port (docs/operator-guide.md, "Who may use the admin port"): actions need a header a page of
/// another site cannot send and take their parameters in the body, the host name must be an address, the page's cookie
/// is a session and not the token, and /metrics and /healthz need the token unless the operator opens them.
/// </summary>
public class AdminAccessTests
{
    private const string Token = "admin-access-test-token-41c9";

    private static HttpClient Client(Loop loop) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}/") };

    private static HttpRequestMessage Action(string path, object? body, string? csrf = null, string? cookie = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (csrf is not null)
            request.Headers.Add(AdminAccess.CsrfHeader, csrf);
        if (cookie is not null)
            request.Headers.Add("Cookie", cookie);
        if (bearer is not null)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(field, (await response.Content.ReadFromJsonAsync<JsonObject>())!["field"]!.GetValue<string>());
    }

    private static async Task<bool> AccountInPool(Loop loop, string account) => (await loop.PoolStatusAsync()).Accounts.Any(a => a.Account == account);

    [Fact]
    public async Task Without_a_token_an_action_needs_the_header_a_cross_site_page_cannot_send_and_its_parameters_in_a_json_body()
    {
        await using var loop = await Loop.StartAsync();
        using var http = Client(loop);

        // What a page of another site can make a browser send: a form post, or a fetch without custom headers.
        var form = new HttpRequestMessage(HttpMethod.Post, "admin/accounts/add") { Content = new FormUrlEncodedContent([KeyValuePair.Create("account", "tech8@contoso.com")]) };
        await AssertProblem(await http.SendAsync(form), HttpStatusCode.Forbidden, AdminAccess.CsrfHeader);
        await AssertProblem(await http.SendAsync(Action("admin/accounts/add", new { account = "tech8@contoso.com" })), HttpStatusCode.Forbidden, AdminAccess.CsrfHeader);
        // Both refusals were answered by the check itself: the pool never heard of the account.
        Assert.False(await AccountInPool(loop, "tech8@contoso.com"));

        // Parameters in the query string are not read: the body names what is missing.
        await AssertProblem(await http.SendAsync(Action("admin/cluster/leave?address=akka.tcp://presence@127.0.0.1:1", null, csrf: "ctl")), HttpStatusCode.BadRequest, "address");
        // A body that is not JSON, or names a parameter the action does not take.
        var text = Action("admin/accounts/add", null, csrf: "ctl");
        text.Content = new StringContent("""{"account":"tech8@contoso.com"}""", System.Text.Encoding.UTF8, "text/plain");
        await AssertProblem(await http.SendAsync(text), HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(Action("admin/accounts/add", new { acount = "tech8@contoso.com" }, csrf: "ctl"))).StatusCode);
        Assert.False(await AccountInPool(loop, "tech8@contoso.com"));

        // The CLI's way: the header and the JSON body.
        var added = await http.SendAsync(Action("admin/accounts/add", new { account = "tech8@contoso.com" }, csrf: "ctl"));
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.True(await AccountInPool(loop, "tech8@contoso.com"));
    }

    [Fact]
    public async Task A_host_name_other_than_an_address_or_localhost_is_refused_as_dns_rebinding_would_send_it()
    {
        await using var loop = await Loop.StartAsync();
        using var http = Client(loop);
        foreach (var path in new[] { "admin/cluster", "status", "metrics", "healthz/live" })
        {
            using var rebound = new HttpRequestMessage(HttpMethod.Get, path);
            rebound.Headers.Host = "attacker.example";
            await AssertProblem(await http.SendAsync(rebound), HttpStatusCode.Forbidden, "Host");
            using var local = new HttpRequestMessage(HttpMethod.Get, path);
            local.Headers.Host = $"localhost:{loop.Ports.Admin}";
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(local)).StatusCode);
        }
    }

    [Fact]
    public async Task With_a_token_the_cookie_is_a_session_and_actions_need_the_token_or_the_pages_csrf_value()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { AdminToken = Token });
        using var http = Client(loop);
        var signedIn = await http.PostAsync("status/login", new FormUrlEncodedContent([KeyValuePair.Create("token", Token)]));
        var setCookie = signedIn.Headers.GetValues("Set-Cookie").Single();
        Assert.StartsWith($"{AdminAccess.SessionCookie}=", setCookie);
        Assert.DoesNotContain(Token, setCookie);
        var cookie = setCookie.Split(';')[0];

        // The page carries its session's CSRF value; reading with the cookie works.
        using var page = new HttpRequestMessage(HttpMethod.Get, "status");
        page.Headers.Add("Cookie", cookie);
        var html = await (await http.SendAsync(page)).Content.ReadAsStringAsync();
        var csrf = Regex.Match(html, "name=\"presence-csrf\" content=\"([^\"]+)\"").Groups[1].Value;
        Assert.True(csrf.Length >= 40, html[..Math.Min(html.Length, 300)]);
        using var read = new HttpRequestMessage(HttpMethod.Get, "admin/cluster");
        read.Headers.Add("Cookie", cookie);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(read)).StatusCode);

        // The cookie alone (what a cross-site form would send, were SameSite ignored), or with another value: refused.
        await AssertProblem(await http.SendAsync(Action("admin/accounts/add", new { account = "tech7@contoso.com" }, cookie: cookie)), HttpStatusCode.Forbidden, AdminAccess.CsrfHeader);
        await AssertProblem(await http.SendAsync(Action("admin/accounts/add", new { account = "tech7@contoso.com" }, csrf: "ctl", cookie: cookie)), HttpStatusCode.Forbidden, AdminAccess.CsrfHeader);
        // The header without a session or token: not signed in.
        await AssertProblem(await http.SendAsync(Action("admin/accounts/add", new { account = "tech7@contoso.com" }, csrf: csrf)), HttpStatusCode.Unauthorized, "Authorization");
        Assert.False(await AccountInPool(loop, "tech7@contoso.com"));

        // The page's way, and the CLI's (the token in the header, no CSRF value needed).
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Action("admin/accounts/add", new { account = "tech7@contoso.com" }, csrf: csrf, cookie: cookie))).StatusCode);
        Assert.True(await AccountInPool(loop, "tech7@contoso.com"));
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Action("admin/accounts/remove", new { account = "tech7@contoso.com" }, bearer: Token))).StatusCode);

        // Signing out ends the session on the node, not only in the browser.
        using var logout = new HttpRequestMessage(HttpMethod.Post, "status/logout");
        logout.Headers.Add("Cookie", cookie);
        Assert.Equal(HttpStatusCode.Redirect, (await http.SendAsync(logout)).StatusCode);
        using var after = new HttpRequestMessage(HttpMethod.Get, "admin/cluster");
        after.Headers.Add("Cookie", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(after)).StatusCode);
    }

    [Fact]
    public async Task With_a_token_metrics_and_health_need_it_unless_presence_admin_open_names_them()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { AdminToken = Token, AdminOpen = new HashSet<string> { "health" } });
        using var http = Client(loop);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz/live")).StatusCode);
        await AssertProblem(await http.GetAsync("metrics"), HttpStatusCode.Unauthorized, "Authorization");
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("metrics")).StatusCode);

        await using var closed = await Loop.StartAsync(adjust: o => o with { AdminToken = Token });
        using var plain = Client(closed);
        await AssertProblem(await plain.GetAsync("healthz/live"), HttpStatusCode.Unauthorized, "Authorization");
        await AssertProblem(await plain.GetAsync("metrics"), HttpStatusCode.Unauthorized, "Authorization");
    }
}
