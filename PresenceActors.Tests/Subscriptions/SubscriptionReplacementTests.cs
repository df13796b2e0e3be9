using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using PresenceActors.Subscriptions;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Subscriptions;

/// <summary>
/// Graph cannot edit a subscription's users: adding one deletes the subscription and creates another, and changes in
/// between are notified to nobody. Every member is read once the new one exists, so all end right without waiting for
/// reconciliation (the production interval, 10 minutes, here); deliveries to the old id are still taken.
/// </summary>
public class SubscriptionReplacementTests
{
    [Fact]
    public async Task Members_that_change_while_their_subscription_is_replaced_end_right_on_uc_without_reconciliation()
    {
        await using var loop = await Loop.StartAsync(technicalAccounts: 1);
        Assert.Equal(TimeSpan.FromMinutes(10), loop.Options.ReconcileEvery);
        var members = await loop.AddUsersAsync(3, prefix: "member");
        var before = Assert.Single(loop.Graph.Tenant.ListSubscriptions()).Id;

        // The next creation fails once: the replacement's gap stays open until the retry 5 s later.
        loop.Graph.Faults.Add(new SimFault { Api = "subscriptions.create", Status = 503, Count = 1 });
        loop.Graph.Faults.ClearCalls();
        var newcomer = loop.AddUsersAsync(1, prefix: "newcomer"); // the membership change: delete, then create
        await Eventually.TrueAsync(() => loop.Graph.Faults.Calls.Any(c => c.Api == "subscriptions.create" && c.Status == 503), TimeSpan.FromSeconds(30),
            "the old subscription deleted and the first creation refused");
        Assert.Empty(loop.Graph.Tenant.ListSubscriptions());

        // In the gap: two members start Teams calls, nobody is subscribed to hear it.
        var changedAt = DateTimeOffset.UtcNow;
        foreach (var (_, teams) in members.Take(2))
            loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);

        await newcomer.WaitAsync(TimeSpan.FromSeconds(90));
        var created = loop.Graph.Faults.Calls.Where(c => c.Api == "subscriptions.create" && c.Status == 201).ToList();
        Assert.True(created.Count == 1 && created[0].At > changedAt, "the changes fell in the gap: the new subscription was created after them");
        Assert.NotEqual(before, Assert.Single(loop.Graph.Tenant.ListSubscriptions()).Id);

        await Eventually.TrueAsync(() => members.Take(2).All(m => loop.Uc.User(m.UcUserId)!.Status == "Busy"), TimeSpan.FromSeconds(30),
            "the members' calls reached UC", () => string.Join(", ", members.Select(m => $"{m.UcUserId}: {loop.Uc.User(m.UcUserId)!.Status}")));
        Assert.Equal("Available", loop.Uc.User(members[2].UcUserId)!.Status);
    }

    [Fact]
    public async Task A_node_that_lost_the_known_subscription_ids_learns_them_again_without_a_change()
    {
        await using var loop = await Loop.StartAsync(technicalAccounts: 1);
        await loop.AddUsersAsync(1, prefix: "known");
        var id = Assert.Single(loop.Graph.Tenant.ListSubscriptions()).Id;
        var cache = loop.Service.Services.GetRequiredService<KnownSubscriptionsCache>();
        await Eventually.TrueAsync(() => cache.Snapshot.Contains(id), TimeSpan.FromSeconds(15), "the pool published the new subscription");

        // As if this node had missed the publication (it joined late, or the message was lost).
        cache.Update([]);
        Assert.DoesNotContain(id, cache.Snapshot);

        await Eventually.TrueAsync(() => cache.Snapshot.Contains(id), KnownSubscriptions.RepublishEvery + TimeSpan.FromSeconds(15),
            "the pool published its ids again");
        Assert.Single(loop.Graph.Tenant.ListSubscriptions()); // without any change to the subscriptions
    }

    [Fact]
    public void A_replaced_subscriptions_id_is_still_known_for_an_hour()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var cache = new KnownSubscriptionsCache(clock);
        cache.Update(["old"]);
        cache.Update(["new"]);
        Assert.True(cache.Contains("new"));
        Assert.True(cache.Contains("old"));
        Assert.False(cache.Contains("never"));

        clock.Advance(KnownSubscriptionsCache.RetiredGrace - TimeSpan.FromSeconds(1));
        cache.Update(["newer"]);
        Assert.True(cache.Contains("old"));
        Assert.True(cache.Contains("new"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.Contains("old"));
        Assert.True(cache.Contains("new"));
        Assert.Equal(["newer"], cache.Snapshot);
    }
}
