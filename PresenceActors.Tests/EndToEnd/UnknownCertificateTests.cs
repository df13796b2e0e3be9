using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// An authentic notification encrypted for a certificate the node does not hold (a node configured apart from the
/// cluster) is never a silent 202: answered 503 so that Graph delivers it again, counted, and the node not ready,
/// its readiness naming the certificate (docs/operator-guide.md, "Cluster-wide secrets").
/// </summary>
public class UnknownCertificateTests
{
    [Fact]
    public async Task Item_for_a_certificate_the_node_lacks_is_answered_503_counted_and_makes_the_node_not_ready()
    {
        await using var loop = await Loop.StartAsync();
        var (_, teams) = (await loop.AddUsersAsync(1, prefix: "foreign"))[0];
        var subscription = loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single();
        using var foreign = EncryptionCertificates.Create(DateTimeOffset.UtcNow);
        var foreignId = EncryptionCertificates.IdOf(foreign);
        var presence = Encoding.UTF8.GetBytes($$"""{"id":"{{teams.Id}}","availability":"Busy","activity":"InACall","sequenceNumber":"99999999999999999999"}""");
        var item = new JsonObject
        {
            ["subscriptionId"] = subscription.Id,
            ["changeType"] = "updated",
            ["clientState"] = subscription.ClientState,
            ["resource"] = $"communications/presences('{teams.Id}')",
            ["resourceData"] = new JsonObject { ["id"] = teams.Id },
            ["encryptedContent"] = NotificationDelivery.Encrypt(presence, foreign, foreignId),
        };
        var body = new JsonObject { ["value"] = new JsonArray(item), ["validationTokens"] = new JsonArray(loop.Graph.Delivery.ValidationToken(Loop.ClientId)) };
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}") };
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/healthz/ready")).StatusCode);

        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var response = await http.PostAsync(loop.WebhookUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, loop.WebhookMetrics.UnknownCertificates);
        Assert.Equal(0, loop.WebhookMetrics.DroppedFor(NotificationDecryptor.UnknownCertificate));
        Assert.False((await loop.StateOfAsync(teams.Id)).TeamsCallActive);
        using var ready = await admin.GetAsync("/healthz/ready");
        var report = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", report["checks"]!["encryption-certificates"]!["status"]!.GetValue<string>());
        Assert.Contains(foreignId, report["checks"]!["encryption-certificates"]!["description"]!.GetValue<string>());
        await Eventually.TrueAsync(async () => System.Text.RegularExpressions.Regex.IsMatch(await admin.GetStringAsync("/metrics"),
            @"^presence_notifications_unknown_certificate_total(\{[^}]*\})? [1-9]", System.Text.RegularExpressions.RegexOptions.Multiline), what: "the metric exported");
    }
}
