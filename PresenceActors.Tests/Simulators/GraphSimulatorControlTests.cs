using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Graph;
using Microsoft.Graph.Models;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Simulators;

/// <summary>The simulator's control API, rate limits and delivery misbehaviour, over HTTPS.</summary>
public class GraphSimulatorControlTests : IAsyncLifetime
{
    private SimulatedTenant _tenant = null!;
    private HttpClient _control = null!;

    public async Task InitializeAsync()
    {
        _tenant = await SimulatedTenant.StartAsync();
        _control = new HttpClient(_tenant.Sim.CreateTrustingHandler()) { BaseAddress = new Uri(_tenant.Sim.BaseUrl, "_sim/") };
    }

    public async Task DisposeAsync()
    {
        _control.Dispose();
        await _tenant.DisposeAsync();
    }

    [Fact]
    public async Task Control_api_drives_users_calls_own_status_faults_and_the_call_log()
    {
        var created = await _control.PostAsJsonAsync("users", new { userPrincipalName = "indy@contoso.com", displayName = "Indy" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();

        var call = await (await _control.PostAsJsonAsync($"users/{id}/teams-call", new { active = true })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("InACall", call!["activity"]!.GetValue<string>());
        var own = await (await _control.PostAsJsonAsync($"users/{id}/preferred", new { availability = "DoNotDisturb", activity = "DoNotDisturb" })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("DoNotDisturb", own!["availability"]!.GetValue<string>());
        var cleared = await (await _control.DeleteAsync($"users/{id}/preferred")).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("InACall", cleared!["activity"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.NoContent, (await _control.PostAsJsonAsync("faults", new { api = "presence.*", status = 503, count = 1 })).StatusCode);
        var graph = _tenant.Graph(_tenant.AppCredential());
        var presence = await graph.Users[id].Presence.GetAsync(); // the SDK retries the 503
        Assert.Equal("InACall", presence!.Activity);

        var log = await _control.GetFromJsonAsync<JsonArray>("calls?api=presence.get");
        Assert.Equal([503, 200], log!.Select(c => c!["status"]!.GetValue<int>()));
        Assert.All(log!, c => Assert.Equal($"app:{SimulatedTenant.ClientId}", c!["caller"]!.GetValue<string>()));

        var badRequest = await _control.PostAsJsonAsync("users", new { displayName = "no upn" });
        Assert.Equal(HttpStatusCode.BadRequest, badRequest.StatusCode);
        Assert.Contains("userPrincipalName", await badRequest.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NoContent, (await _control.PostAsync("reset", null)).StatusCode);
        Assert.Empty((await _control.GetFromJsonAsync<JsonArray>("users"))!);
        Assert.Empty((await _control.GetFromJsonAsync<JsonArray>("calls"))!);
    }

    [Fact]
    public async Task Token_errors_are_injected_through_the_control_api()
    {
        Assert.Equal(HttpStatusCode.NoContent, (await _control.PostAsJsonAsync($"users/{_tenant.Technical.Id}/token-error", new { code = 50076 })).StatusCode);
        var error = await Assert.ThrowsAsync<Azure.Identity.AuthenticationFailedException>(async () =>
            await _tenant.UserCredential().GetTokenAsync(new Azure.Core.TokenRequestContext(["https://graph.microsoft.com/Presence.Read.All"]), default));
        Assert.Contains("AADSTS50076", error.ToString());

        Assert.Equal(HttpStatusCode.NoContent, (await _control.PostAsJsonAsync($"apps/{SimulatedTenant.ClientId}/token-error", new { code = 7000222 })).StatusCode);
        var appError = await Assert.ThrowsAsync<Azure.Identity.AuthenticationFailedException>(async () =>
            await _tenant.AppCredential().GetTokenAsync(new Azure.Core.TokenRequestContext(["https://graph.microsoft.com/.default"]), default));
        Assert.Contains("AADSTS7000222", appError.ToString());
    }

    [Fact]
    public async Task Documented_rate_limits_throttle_with_retry_after_and_can_be_switched_off()
    {
        var user = _tenant.Sim.Tenant.AddUser("jules@contoso.com");
        _tenant.Sim.Faults.Limits["presence"] = (3, TimeSpan.FromSeconds(30));
        var token = (await _tenant.AppCredential().GetTokenAsync(new Azure.Core.TokenRequestContext(["https://graph.microsoft.com/.default"]), default)).Token;
        using var raw = new HttpClient(_tenant.Sim.CreateTrustingHandler());
        raw.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var url = new Uri(_tenant.Sim.GraphUrl, $"users/{user.Id}/presence");

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync(url)).StatusCode);
        var throttled = await raw.GetAsync(url);
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 30);
        Assert.Contains("TooManyRequests", await throttled.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NoContent, (await _control.PostAsJsonAsync("rate-limits", new { enabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task A_property_given_twice_is_refused_with_400_naming_it()
    {
        var user = _tenant.Sim.Tenant.AddUser("twice@contoso.com");
        var token = (await _tenant.AppCredential().GetTokenAsync(new Azure.Core.TokenRequestContext(["https://graph.microsoft.com/.default"]), default)).Token;
        using var raw = new HttpClient(_tenant.Sim.CreateTrustingHandler());
        raw.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var body = $$"""{"sessionId":"{{SimulatedTenant.ClientId}}","availability":"Busy","activity":"InACall","expirationDuration":"PT5M","activity":null}""";

        var answer = await raw.PostAsync(new Uri(_tenant.Sim.GraphUrl, $"users/{user.Id}/presence/setPresence"), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Contains("'activity' more than once", await answer.Content.ReadAsStringAsync());
        Assert.Empty(_tenant.Sim.Tenant.FindUser(user.Id)!.Sessions);
    }

    [Fact]
    public async Task A_slow_endpoint_is_delayed_at_10_percent_dropped_at_15_and_forgiven_when_the_window_ends()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var user = _tenant.Sim.Tenant.AddUser("slow@contoso.com");
        using var certificate = SimulatedTenant.EncryptionCertificate();
        await _tenant.Graph(_tenant.UserCredential()).Subscriptions.PostAsync(SimulatedTenant.PresenceSubscription([user.Id], receiver, encryptFor: certificate));
        var delivery = _tenant.Sim.Delivery;
        var host = new Uri(receiver.NotificationUrl).Authority;
        // Graph's rules with test timings: slow above 200 ms, judged after 20 notifications, a 1 s delay; the window is
        // Graph's 10 minutes, and answers are timed, on a clock the test moves.
        var windowClock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        delivery.SlowEndpoints = new SlowEndpointTracker(windowClock)
        {
            Rules = new SlowEndpointRules { SlowAfter = TimeSpan.FromMilliseconds(200), MinimumNotifications = 20, Delay = TimeSpan.FromSeconds(1) },
        };
        var activity = false;

        // One change at a time, answered fast or slowly; the next only once the simulator has counted the answer.
        async Task ChangeAsync(bool slow)
        {
            var sent = delivery.SlowEndpoints.Of(host).Sent;
            // A slow answer takes 400 ms on the clock the simulator times answers with; a fast one takes none.
            receiver.BeforeAnswer = slow ? () => windowClock.Advance(TimeSpan.FromMilliseconds(400)) : null;
            activity = !activity;
            _tenant.Sim.Tenant.SetClient(user.Id, activity ? TeamsClientState.InACall : TeamsClientState.Available);
            await receiver.NextNotificationAsync();
            await Eventually.TrueAsync(() => delivery.SlowEndpoints.Of(host).Sent == sent + 1, what: "the answer counted");
        }

        for (var i = 0; i < 20; i++)
            await ChangeAsync(slow: i < 2);
        Assert.Equal((20L, 2L, EndpointStanding.Delayed), delivery.SlowEndpoints.Of(host));

        // 10 % slow: the next notification is held back for the delay, then delivered.
        await ChangeAsync(slow: false);
        Assert.Equal(1, delivery.DelayedForSlowness);

        for (var i = 0; i < 2; i++)
            await ChangeAsync(slow: true);
        Assert.Equal((23L, 4L, EndpointStanding.Dropping), delivery.SlowEndpoints.Of(host));

        // 15 % and more: dropped. Counted first, then the receiver is seen to have got nothing.
        _tenant.Sim.Tenant.SetClient(user.Id, (activity = !activity) ? TeamsClientState.InACall : TeamsClientState.Available);
        await Eventually.TrueAsync(() => delivery.DroppedForSlowness == 1, what: "the notification dropped for slowness");
        Assert.False(receiver.TryTakeNotification(out _));

        // A new window forgives the host.
        windowClock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal((0L, 0L, EndpointStanding.Normal), delivery.SlowEndpoints.Of(host));
        await ChangeAsync(slow: false);
        Assert.Equal(1, delivery.DroppedForSlowness);
    }

    [Fact]
    public async Task Delivery_can_duplicate_drop_and_reorder_on_command()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var user = _tenant.Sim.Tenant.AddUser("kim@contoso.com");
        using var certificate = SimulatedTenant.EncryptionCertificate();
        await _tenant.Graph(_tenant.UserCredential()).Subscriptions.PostAsync(SimulatedTenant.PresenceSubscription([user.Id], receiver, encryptFor: certificate));
        var delivery = _tenant.Sim.Delivery;
        var tenant = _tenant.Sim.Tenant;
        var pfx = certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx);

        async Task<List<string>> Activities(int count)
        {
            var activities = new List<string>();
            while (activities.Count < count)
            {
                var collection = await Microsoft.Kiota.Abstractions.Serialization.KiotaJsonSerializer.DeserializeAsync(
                    (await receiver.NextNotificationAsync()).ToJsonString(), ChangeNotificationCollection.CreateFromDiscriminatorValue);
                foreach (var item in collection!.Value!)
                {
                    // The SDK disposes the certificate it is handed, so each decryption gets its own copy.
                    var json = await item.EncryptedContent!.DecryptAsync((_, _) => Task.FromResult(
                        System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(pfx, null)));
                    activities.Add(System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("activity").GetString()!);
                }
            }

            return activities;
        }

        delivery.Faults = new SimDeliveryFaults { DuplicateRate = 1 };
        tenant.SetClient(user.Id, TeamsClientState.InACall);
        Assert.Equal(["InACall", "InACall"], await Activities(2));

        delivery.Faults = new SimDeliveryFaults { DropRate = 1 };
        tenant.SetClient(user.Id, TeamsClientState.Available);
        Assert.Equal(1, delivery.DroppedByFault);

        // Before reordering: both InACall items acknowledged. The item held back is chosen as it is published, so neither
        // a late retry of an InACall nor a worker taking the newer item first can take its place.
        await Eventually.TrueAsync(() => delivery.Delivered >= 2, what: "the duplicated items acknowledged");
        delivery.Faults = new SimDeliveryFaults { ReorderRate = 1 };
        tenant.SetMeeting(user.Id, true); // Busy/InAMeeting first ...
        tenant.SetMeeting(user.Id, false); // ... then Available/Available overtakes it
        // Read until both came; the order asked for is the order in which each first came. The dropped Available was never
        // queued (counted above), so the only Available is the one that overtook.
        var seen = new List<string>();
        while (!seen.Contains("Available") || !seen.Contains("InAMeeting"))
        {
            foreach (var activity in await Activities(1))
            {
                if (activity != "InACall" && !seen.Contains(activity))
                    seen.Add(activity);
            }
        }

        Assert.Equal(["Available", "InAMeeting"], seen);
    }
}
