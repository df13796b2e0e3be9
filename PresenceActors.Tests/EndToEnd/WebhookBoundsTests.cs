using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// Authentic items of a subscription the node does not know yet wait for its id; how many may wait at once is bounded,
/// and what is beyond the bound is answered 503 for Graph to send again, not held in memory.
/// </summary>
public class WebhookBoundsTests
{
    [Fact]
    public async Task Items_beyond_those_that_may_wait_for_their_subscription_are_answered_503_and_counted()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { WebhookFlow = o.WebhookFlow with { MaxWaitingForSubscription = 50 } });
        var (_, teams) = (await loop.AddUsersAsync(1, prefix: "bounds"))[0];
        // A subscription id no node has heard of, with a clientState only this service can sign.
        var clientState = new ClientStateSigner(loop.Options.ClientStateKey).Create("tech1@contoso.com");
        var unknownId = Guid.NewGuid().ToString();
        var items = Enumerable.Range(0, 200).Select(i => (JsonNode)new JsonObject
        {
            ["subscriptionId"] = unknownId,
            ["changeType"] = "updated",
            ["clientState"] = clientState,
            ["resource"] = $"communications/presences('{teams.Id}')",
            ["resourceData"] = new JsonObject { ["id"] = teams.Id },
        }).ToArray();
        var body = new JsonObject { ["value"] = new JsonArray(items), ["validationTokens"] = new JsonArray(loop.Graph.Delivery.ValidationToken(Loop.ClientId)) };
        var processor = (GraphNotificationProcessor)loop.Service.Services.GetService(typeof(GraphNotificationProcessor))!;

        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var response = await http.PostAsync(loop.WebhookUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(150, loop.WebhookMetrics.WaitRefused);
        Assert.Equal(50, processor.WaitingForSubscription);
        // The 50 that waited are dropped once the grace passes with no such subscription, and the bound is free again.
        await Eventually.TrueAsync(() => processor.WaitingForSubscription == 0, TimeSpan.FromSeconds(30), "the waiting items released");
        Assert.Equal(50, loop.WebhookMetrics.DroppedFor("unknown-subscription"));
    }
}
