using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>Forged and broken input at the public webhook and the internal API: refused or dropped, counted, nothing changed.</summary>
public class WebhookAndApiSecurityTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    private HttpClient Client() => new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });

    [Fact]
    public async Task Handshake_echoes_a_token_with_spaces_colons_and_html_exactly_as_text_plain()
    {
        const string token = "Validation: Testing <client> & 'reachability' for subscription Request-Id: 1a2b:3c4d \"quoted\"";
        using var http = Client();
        using var response = await http.PostAsync($"{_loop.WebhookUrl}?validationToken={Uri.EscapeDataString(token)}", new StringContent("", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(token, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forged_and_broken_notifications_are_dropped_counted_and_answered_202_with_no_state_change()
    {
        var (_, teams) = (await _loop.AddUsersAsync(1, prefix: "forged"))[0];
        var subscription = _loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single();
        var signer = new ClientStateSigner(_loop.Options.ClientStateKey);
        var presence = Encoding.UTF8.GetBytes($$"""{"id":"{{teams.Id}}","availability":"Busy","activity":"InACall","sequenceNumber":"99999999999999999999"}""");
        var encryption = _loop.Options.EncryptionCertificate!;
        var goodContent = NotificationDelivery.Encrypt(presence, encryption, PresenceActors.Webhooks.EncryptionCertificates.IdOf(encryption));
        var goodToken = _loop.Graph.Delivery.ValidationToken(Loop.ClientId);

        JsonObject Item(string subscriptionId, string? clientState, JsonObject? content) => new()
        {
            ["subscriptionId"] = subscriptionId,
            ["changeType"] = "updated",
            ["clientState"] = clientState,
            ["resource"] = $"communications/presences('{teams.Id}')",
            ["resourceData"] = new JsonObject { ["id"] = teams.Id },
            ["encryptedContent"] = content?.DeepClone(),
        };

        var tampered = (JsonObject)goodContent.DeepClone();
        var data = Convert.FromBase64String(tampered["data"]!.GetValue<string>());
        data[0] ^= 0xFF;
        tampered["data"] = Convert.ToBase64String(data);
        var foreignSigner = new SimJwt(System.Security.Cryptography.RSA.Create(2048), "not-graphs-key");
        var forgedToken = foreignSigner.Sign(new JsonObject
        {
            ["aud"] = Loop.ClientId, ["iss"] = $"https://sts.windows.net/{_loop.Graph.Tenant.TenantId}/", ["appid"] = NotificationDelivery.ChangeNotificationPublisherAppId,
            ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(), ["nbf"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(),
        });

        var cases = new (string Reason, JsonObject Body)[]
        {
            ("client-state", Body([Item(subscription.Id, "v1.forged.clientstate.AAAA", goodContent)], goodToken)),
            // Genuine, but issued for another technical account than the one whose subscription this is.
            ("client-state", Body([Item(subscription.Id, signer.Create("another-technical-user@contoso.com"), goodContent)], goodToken)),
            ("bad-signature", Body([Item(subscription.Id, subscription.ClientState, tampered)], goodToken)),
            ("validation-token", Body([Item(subscription.Id, subscription.ClientState, goodContent)], forgedToken)),
            ("validation-token", Body([Item(subscription.Id, subscription.ClientState, goodContent)], null)),
        };

        var before = await _loop.StateOfAsync(teams.Id);
        using var http = Client();
        foreach (var (reason, body) in cases)
        {
            var dropped = _loop.WebhookMetrics.DroppedFor(reason);
            using var response = await http.PostAsync(_loop.WebhookUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            // Answered once committed; the checks that find it forged run after the answer.
            await Eventually.TrueAsync(() => _loop.WebhookMetrics.DroppedFor(reason) == dropped + 1, TimeSpan.FromSeconds(20), $"dropped as {reason}");
        }

        var after = await _loop.StateOfAsync(teams.Id);
        Assert.Equal(before.Teams, after.Teams);
        Assert.False(after.TeamsCallActive);

        // The genuine item, by contrast, is accepted: the drops above were about what was wrong with each.
        var accepted = _loop.WebhookMetrics.Accepted;
        using var genuine = await http.PostAsync(_loop.WebhookUrl, new StringContent(Body([Item(subscription.Id, subscription.ClientState, goodContent)], goodToken).ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, genuine.StatusCode);
        await Eventually.TrueAsync(() => _loop.WebhookMetrics.Accepted == accepted + 1, what: "the genuine item accepted");
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(teams.Id)).TeamsCallActive, what: "the genuine call notification applied");

        // Graph delivers at least once: the same item again is a duplicate, dropped before it costs a decryption.
        var duplicates = _loop.WebhookMetrics.DroppedFor("duplicate");
        var decryptor = _loop.Service.Services.GetRequiredService<PresenceActors.Webhooks.NotificationDecryptor>();
        var unwrapped = decryptor.KeysUnwrapped;
        using var again = await http.PostAsync(_loop.WebhookUrl, new StringContent(Body([Item(subscription.Id, subscription.ClientState, goodContent)], goodToken).ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        await Eventually.TrueAsync(() => _loop.WebhookMetrics.DroppedFor("duplicate") == duplicates + 1, what: "dropped as a duplicate");
        Assert.Equal(unwrapped, decryptor.KeysUnwrapped);
    }

    [Theory]
    [InlineData("{\"value\": [", "application/json", 400)]
    [InlineData("[1,2,3]", "application/json", 400)]
    [InlineData("{\"value\": {}}", "application/json", 400)]
    [InlineData("{\"value\": []}", "text/plain", 415)]
    public async Task Malformed_notification_bodies_are_refused_with_a_problem(string body, string contentType, int status)
    {
        using var http = Client();
        using var response = await http.PostAsync(_loop.WebhookUrl, new StringContent(body, Encoding.UTF8, contentType));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Oversized_notification_body_is_refused_with_413()
    {
        using var http = Client();
        var huge = "{\"value\":[" + string.Join(",", Enumerable.Repeat("{\"subscriptionId\":\"x\"}", 60_000)) + "]}";
        using var request = new HttpRequestMessage(HttpMethod.Post, _loop.WebhookUrl) { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true; // the refusal comes before the body is sent, as a well-behaved client would wait for it
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task Internal_api_without_the_right_key_answers_401(string? authorization)
    {
        using var http = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/users/anyone");
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("PUT", "/api/v1/users/uc-x", "{}", "teamsUser")]
    [InlineData("PUT", "/api/v1/users/uc-x", "{\"teamsUser\": 42}", "teamsUser")]
    [InlineData("PUT", "/api/v1/users/uc-x", "not json", "body")]
    [InlineData("POST", "/api/v1/users/uc-x/presence", "{\"onPhone\": false}", "status")]
    [InlineData("POST", "/api/v1/users/uc-x/presence", "{\"status\": \"Busy\", \"onPhone\": \"yes\"}", "onPhone")]
    [InlineData("POST", "/api/v1/users/uc-x/presence", "{\"status\": \"Busy\", \"onPhone\": true, \"at\": \"yesterday\"}", "at")]
    [InlineData("PUT", "/api/v1/users", "{\"ucUserId\": \"a\"}", "body")]
    [InlineData("PUT", "/api/v1/users", "[{\"ucUserId\": \"a\"}]", "[0].teamsUser")]
    [InlineData("PUT", "/api/v1/users/uc-x", "[]", "body")]
    [InlineData("PUT", "/api/v1/users/uc-x/sync", "{\"enabled\": \"yes\"}", "enabled")]
    [InlineData("POST", "/api/v1/presence", "[5]", "[0]")]
    [InlineData("POST", "/api/v1/presence", "[{\"ucUserId\": \"a\", \"status\": \"Busy\", \"onPhone\": true}]", "[0].at")]
    public async Task Internal_api_refuses_invalid_bodies_naming_the_field(string method, string path, string body, string field)
    {
        using var http = Client();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        using var request = new HttpRequestMessage(new HttpMethod(method), $"https://127.0.0.1:{_loop.Ports.InternalApi}{path}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(field, problem!["field"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(problem["detail"]?.GetValue<string>()));
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_is_refused_saying_what_the_field_holds_without_echoing_the_value()
    {
        using var http = Client();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        using var response = await http.PostAsync($"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/users/uc-x/presence",
            new StringContent("{\"status\": \"Busy\", \"onPhone\": \"S3cret-yes\"}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("onPhone", problem!["field"]!.GetValue<string>());
        Assert.Equal("onPhone must be true or false.", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("S3cret", problem.ToJsonString(), StringComparison.Ordinal);
        // Written by the problem-details service: the request's trace id, to find it in the node's logs and traces.
        Assert.False(string.IsNullOrEmpty(problem["traceId"]?.GetValue<string>()));
    }

    [Fact]
    public async Task Internal_api_registers_resolves_conflicts_and_reports_unknown_users()
    {
        var person = _loop.Graph.Tenant.AddUser("lee.api@contoso.com", mail: "lee@contoso.com");
        using var http = Client();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var api = $"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/users";

        using var byMail = await http.PutAsJsonAsync($"{api}/uc-lee", new { teamsUser = "lee@contoso.com" });
        Assert.Equal(HttpStatusCode.OK, byMail.StatusCode);
        Assert.Equal(person.Id, (await byMail.Content.ReadFromJsonAsync<JsonObject>())!["teamsUserId"]!.GetValue<string>());

        using var conflict = await http.PutAsJsonAsync($"{api}/uc-someone-else", new { teamsUser = person.Id });
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Contains("uc-lee", await conflict.Content.ReadAsStringAsync());

        using var unknown = await http.PutAsJsonAsync($"{api}/uc-ghost", new { teamsUser = "ghost@contoso.com" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var state = await http.GetAsync($"{api}/uc-lee");
        Assert.Equal(person.Id, (await state.Content.ReadFromJsonAsync<JsonObject>())!["teamsUserId"]!.GetValue<string>());

        using var removed = await http.DeleteAsync($"{api}/uc-lee");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var gone = await http.GetAsync($"{api}/uc-lee");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Each_surface_answers_only_on_its_own_listener()
    {
        using var http = Client();
        using var apiOnWebhook = await http.GetAsync($"https://127.0.0.1:{_loop.Ports.Webhook}/api/v1/users/x");
        Assert.Equal(HttpStatusCode.NotFound, apiOnWebhook.StatusCode);
        using var webhookOnApi = await http.PostAsync($"https://127.0.0.1:{_loop.Ports.InternalApi}/graph/listen?validationToken=x", null);
        Assert.Equal(HttpStatusCode.NotFound, webhookOnApi.StatusCode);
    }

    private static JsonObject Body(JsonObject[] items, string? token)
    {
        var body = new JsonObject { ["value"] = new JsonArray(items.Select(i => (JsonNode)i).ToArray()) };
        if (token is not null)
            body["validationTokens"] = new JsonArray(token);
        return body;
    }
}
