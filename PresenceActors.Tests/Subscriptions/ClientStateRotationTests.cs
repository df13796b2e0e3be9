using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Subscriptions;

/// <summary>
/// A clientState names the key that signed it. The rotation of presence.clientState.key in its three steps: the new key
/// announced (accepted, unused), then current with the old one replaced (every subscription re-created with the new key
/// while the old one is still accepted), then the old one removed (a clientState it signed feeds nothing)
/// (docs/operator-guide.md, "Rotating the clientState key").
/// </summary>
public class ClientStateRotationTests
{
    private static readonly byte[] Old = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] New = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void A_clientState_verifies_with_the_key_that_signed_it_while_that_key_is_held()
    {
        var old = new ClientStateSigner(Old).Create("tech@contoso.com");
        Assert.StartsWith($"v2.{ClientStateSigner.KeyIdOf(Old)}.{ClientStateSigner.TagOf("tech@contoso.com")}.", old);
        Assert.InRange(old.Length, 60, 128);

        var rotating = new ClientStateSigner(New, [Old]);
        Assert.True(rotating.Rotating);
        Assert.True(rotating.Verify(old, out var tag, out var keyId));
        Assert.Equal((ClientStateSigner.TagOf("tech@contoso.com"), ClientStateSigner.KeyIdOf(Old)), (tag, keyId));
        Assert.StartsWith($"v2.{ClientStateSigner.KeyIdOf(New)}.", rotating.Create("tech@contoso.com"));

        // Announced (step 1): a clientState of the next key is accepted, and the key is not a replaced one.
        var announced = new ClientStateSigner(Old, nextKeys: [New]);
        Assert.True(announced.Verify(rotating.Create("tech@contoso.com")));
        Assert.False(announced.Rotating);
        Assert.False(announced.IsReplaced(ClientStateSigner.KeyIdOf(New)));
        Assert.True(rotating.IsReplaced(ClientStateSigner.KeyIdOf(Old)));

        var rotated = new ClientStateSigner(New);
        Assert.False(rotated.Rotating);
        Assert.False(rotated.Verify(old));
        // Another key's id on the old clientState's MAC does not pass either.
        Assert.False(rotated.Verify(old.Replace(ClientStateSigner.KeyIdOf(Old), ClientStateSigner.KeyIdOf(New), StringComparison.Ordinal)));

        // The first version's format (no key id) verifies against any key held, and only those.
        var tagText = ClientStateSigner.TagOf("tech@contoso.com");
        const string nonce = "AAECAwQFBgcICQoL";
        var mac = Convert.ToBase64String(HMACSHA256.HashData(Old, Encoding.UTF8.GetBytes($"{tagText}.{nonce}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var v1 = $"v1.{tagText}.{nonce}.{mac}";
        Assert.True(new ClientStateSigner(Old).Verify(v1));
        Assert.True(rotating.Verify(v1, out _, out var v1Key));
        Assert.Null(v1Key);
        Assert.False(rotated.Verify(v1));
    }

    [Fact]
    public async Task Rotating_the_key_re_creates_each_subscription_with_it_and_the_old_key_feeds_nothing_once_removed()
    {
        await using var loop = await Loop.StartAsync(adjust: o => o with { ClientStateKey = Old });
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, prefix: "rotate"))[0];
        var first = loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single();
        Assert.StartsWith($"v2.{ClientStateSigner.KeyIdOf(Old)}.", first.ClientState);

        // Step 1, the new key announced: accepted, not used; the subscription stays as it is.
        await loop.RestartAsync(o => o with { NextClientStateKeys = [New] });
        await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).Accounts.Single().SubscriptionId == first.Id, TimeSpan.FromSeconds(30), "the pool back");
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Offline);
        await Eventually.TrueAsync(() => loop.WebhookMetrics.Accepted > 0, TimeSpan.FromSeconds(30), "a change taken through the first subscription");
        Assert.Equal(first.Id, loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single().Id);

        // Step 2, the new key current and the old one replaced: the pool re-creates the subscription with the new key,
        // and keeps at it when Graph refuses the first attempt to delete the old one.
        loop.Graph.Faults.Add(new SimFault { Api = "subscriptions.delete", Status = 400, Count = 1 });
        await loop.RestartAsync(o => o with { ClientStateKey = New, PreviousClientStateKeys = [Old], NextClientStateKeys = [] });
        SimSubscription? second = null;
        await Eventually.TrueAsync(() => (second = loop.Graph.Tenant.SubscriptionsWatching(teams.Id).SingleOrDefault()) is { } s && s.Id != first.Id
                                         && s.ClientState!.StartsWith($"v2.{ClientStateSigner.KeyIdOf(New)}.", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the subscription made again with the new key");
        Assert.Single(loop.Graph.Tenant.ListSubscriptions(Loop.ClientId));
        Assert.Contains(loop.Graph.Faults.Calls, c => c.Api == "subscriptions.delete" && c.Status == 400);
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", TimeSpan.FromSeconds(30), "a call through the new subscription");

        // Meanwhile an item signed with the old key (Graph retrying what it sent before) is still taken.
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var accepted = loop.WebhookMetrics.Accepted;
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(http, loop, second!.Id, first.ClientState!, teams.Id, "Available", "Available")).StatusCode);
        await Eventually.TrueAsync(() => loop.WebhookMetrics.Accepted > accepted, TimeSpan.FromSeconds(30), "the old key's item taken during the rotation");
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Available", TimeSpan.FromSeconds(30), "and applied");

        // The old key removed: a clientState it signed is refused, and the subscription (already on the new key) stays.
        await loop.RestartAsync(o => o with { PreviousClientStateKeys = [] });
        await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).Accounts.Single().SubscriptionId == second.Id, TimeSpan.FromSeconds(30), "the pool back");
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(http, loop, second.Id, first.ClientState!, teams.Id, "Busy", "InACall")).StatusCode);
        Assert.Equal(1, loop.WebhookMetrics.DroppedFor("client-state"));
        Assert.Equal(second.Id, loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single().Id);
        // Genuine items of the new key still flow (and are the sign the refused one was not merely late).
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", TimeSpan.FromSeconds(30), "a call after the rotation");
        Assert.Equal(1, loop.WebhookMetrics.DroppedFor("client-state"));
    }

    /// <summary>An item as Graph sends it, one step newer than Graph's presence of the user now.</summary>
    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, Loop loop, string subscriptionId, string clientState, string userId,
        string availability, string activity)
    {
        var sequence = loop.Graph.Tenant.GetPresence(userId).SequenceNumber + "1"; // sorts after it, and before Graph's next
        var (certificate, certificateId) = loop.Service.Services.GetRequiredService<EncryptionCertificates>().CurrentWithId;
        var content = JsonSerializer.SerializeToUtf8Bytes(new { id = userId, availability, activity, sequenceNumber = sequence });
        var body = new JsonObject
        {
            ["value"] = new JsonArray(new JsonObject
            {
                ["subscriptionId"] = subscriptionId, ["changeType"] = "updated", ["clientState"] = clientState,
                ["resource"] = $"communications/presences('{userId}')", ["resourceData"] = new JsonObject { ["id"] = userId },
                ["encryptedContent"] = NotificationDelivery.Encrypt(content, certificate, certificateId),
            }),
            ["validationTokens"] = new JsonArray(loop.Graph.Delivery.ValidationToken(Loop.ClientId)),
        };
        return await http.PostAsync(loop.WebhookUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
    }
}
