using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Ingress;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// A subscription just made by the pool can deliver before its id reaches the node. Its authentic items are answered
/// 202, wait in the ingress log however long the id takes, and are processed once the pool publishes it; never dropped.
/// </summary>
public class UnknownSubscriptionTests
{
    [Fact]
    public async Task Items_of_a_subscription_not_yet_known_wait_in_the_log_and_reach_UC_once_the_pool_publishes_it()
    {
        await using var loop = await Loop.StartAsync();
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, prefix: "unknown-sub"))[0];
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Available", TimeSpan.FromSeconds(30), "the user starts Available");
        var ingress = loop.Service.Services.GetRequiredService<IngressLog>();
        var retriedBefore = ingress.Retried;

        var account = "tech1@contoso.com";
        var unknownId = Guid.NewGuid().ToString();
        var (certificate, certificateId) = loop.Service.Services.GetRequiredService<EncryptionCertificates>().CurrentWithId;
        var content = JsonSerializer.SerializeToUtf8Bytes(new { id = teams.Id, availability = "Busy", activity = "InACall", sequenceNumber = "Z-unknown-sub" });
        var item = new JsonObject
        {
            ["subscriptionId"] = unknownId,
            ["changeType"] = "updated",
            ["clientState"] = new ClientStateSigner(loop.Options.ClientStateKey).Create(account),
            ["resource"] = $"communications/presences('{teams.Id}')",
            ["resourceData"] = new JsonObject { ["id"] = teams.Id },
            ["encryptedContent"] = NotificationDelivery.Encrypt(content, certificate, certificateId),
        };
        var body = new JsonObject { ["value"] = new JsonArray(item), ["validationTokens"] = new JsonArray(loop.Graph.Delivery.ValidationToken(Loop.ClientId)) };

        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var response = await http.PostAsync(loop.WebhookUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // Processed and kept: the entry was tried (and put back), it is still in the log, and UC saw nothing.
        await Eventually.TrueAsync(() => ingress.Retried > retriedBefore, TimeSpan.FromSeconds(30), "the item tried and kept for later");
        Assert.Equal(1, await ingress.CountAsync(CancellationToken.None));
        Assert.Equal(0, loop.WebhookMetrics.DroppedFor(ItemAuthenticity.UnknownSubscription));
        Assert.Equal("Available", loop.Uc.User(ucUserId)!.Status);

        // The pool publishes the id (as after making the subscription): the waiting item is processed at once.
        var known = loop.Service.Services.GetRequiredService<KnownSubscriptionsCache>();
        loop.System.EventStream.Publish(new KnownSubscriptions(known.Snapshot.ToImmutableHashSet().Add(unknownId),
            ImmutableDictionary<string, string>.Empty.Add(unknownId, ClientStateSigner.TagOf(account))));
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", TimeSpan.FromSeconds(30), "the waiting call reaches UC");
        await Eventually.TrueAsync(async () => await ingress.CountAsync(CancellationToken.None) == 0, TimeSpan.FromSeconds(10), "the entry leaves the log");
        // And no longer counts against the bound of items waiting for unknown subscriptions.
        Assert.Equal((0, 0L), ingress.Waiting(ItemAuthenticity.UnknownSubscription));
    }

    [Fact]
    public async Task Items_of_unknown_subscriptions_are_bounded_and_refused_beyond_it_while_known_ones_still_flow()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { Ingress = o.Ingress with { MaxUnknownSubscriptionItems = 3 } });
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, prefix: "bound-sub"))[0];
        var ingress = loop.Service.Services.GetRequiredService<IngressLog>();
        // A genuine clientState of our technical account (as a leaked one would be), for subscriptions nobody published.
        var clientState = new ClientStateSigner(loop.Options.ClientStateKey).Create("tech1@contoso.com");
        string Basic() => new JsonObject
        {
            ["value"] = new JsonArray(new JsonObject
            {
                ["subscriptionId"] = Guid.NewGuid().ToString(), ["changeType"] = "updated", ["clientState"] = clientState,
                ["resource"] = $"communications/presences('{teams.Id}')", ["resourceData"] = new JsonObject { ["id"] = teams.Id },
            }),
        }.ToJsonString();

        // A burst of five at once, before any is processed: the bound is reserved as each is admitted, so exactly three pass.
        var handledBefore = ingress.HandledOnce;
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => http.PostAsync(loop.WebhookUrl, new StringContent(Basic(), Encoding.UTF8, "application/json"))));
        Assert.Equal(3, answers.Count(a => a.StatusCode == HttpStatusCode.Accepted));
        var refused = answers.Where(a => a.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Equal(2, refused.Count);
        Assert.All(refused, r => Assert.NotNull(r.Headers.RetryAfter));
        Assert.Contains("\"field\":\"subscriptionId\"", await refused[0].Content.ReadAsStringAsync());
        Assert.Equal(2, loop.WebhookMetrics.RefusedFor("unknown-subscription-full"));
        Assert.Equal(3, ingress.Waiting(ItemAuthenticity.UnknownSubscription).Items);
        // Once tried, they still wait (and still count).
        await Eventually.TrueAsync(() => ingress.HandledOnce >= handledBefore + 3, TimeSpan.FromSeconds(30), "the three tried once");
        Assert.Equal(3, ingress.Waiting(ItemAuthenticity.UnknownSubscription).Items);

        // Genuine deliveries for the pool's own subscription are not held by the bound.
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", TimeSpan.FromSeconds(30), "a real call reaches UC");
    }

    [Fact]
    public async Task A_request_with_more_items_than_graph_ever_batches_is_refused_before_any_is_checked()
    {
        await using var loop = await Loop.StartAsync();
        var items = new JsonArray();
        for (var i = 0; i <= NotificationAdmission.MaxItemsPerRequest; i++)
            items.Add(new JsonObject { ["subscriptionId"] = "s", ["clientState"] = "x" });
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var response = await http.PostAsync(loop.WebhookUrl, new StringContent(new JsonObject { ["value"] = items }.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("\"field\":\"value\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(NotificationAdmission.MaxItemsPerRequest + 1, loop.WebhookMetrics.RefusedFor("too-many-items"));
        // Refused at the door: not one item reached the clientState check.
        Assert.Equal(0, loop.WebhookMetrics.DroppedFor("client-state"));
    }
}
