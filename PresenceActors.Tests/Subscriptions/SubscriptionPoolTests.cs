using System.Collections.Immutable;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Graph;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;
using static PresenceActors.Subscriptions.SubscriptionPoolCommands;

namespace PresenceActors.Tests.Subscriptions;

/// <summary>The subscription pool against the Graph simulator over HTTPS, with the real SDKs.</summary>
public class SubscriptionPoolTests : IAsyncLifetime
{
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(technicalAccounts: 4, adjust: o => o with { ReconcileEvery = TimeSpan.FromSeconds(3) });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private SimTenant Tenant => _loop.Graph.Tenant;

    private List<string> MakeUsers(int count, string prefix) =>
        Enumerable.Range(0, count).Select(i => Tenant.AddUser($"{prefix}{i}@contoso.com").Id).ToList();

    private void Watch(IEnumerable<string> ids) => _loop.Pool.Tell(new WatchUsers([.. ids]));

    private bool AllWatched(IEnumerable<string> ids) => ids.All(id => Tenant.SubscriptionsWatching(id).Count == 1);

    private void AssertOneSubscriptionPerAccountWithin650()
    {
        var subscriptions = Tenant.ListSubscriptions();
        Assert.Equal(subscriptions.Count, subscriptions.Select(s => s.CreatorId).Distinct().Count());
        Assert.All(subscriptions, s => Assert.InRange(s.UserIds.Count, 1, 650));
    }

    [Fact]
    public async Task Two_thousand_users_on_four_accounts_are_all_subscribed_one_subscription_per_account()
    {
        var users = MakeUsers(2000, "bulk");
        Watch(users);

        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(60), "all 2,000 watched",
            () => $"watched={users.Count(id => Tenant.SubscriptionsWatching(id).Count == 1)} subscriptions={Tenant.ListSubscriptions().Count}");
        Assert.Equal(4, Tenant.ListSubscriptions().Count);
        AssertOneSubscriptionPerAccountWithin650();

        var status = await _loop.PoolStatusAsync();
        Assert.Equal((2000, 0), (status.WatchedUsers, status.UnwatchedUsers));
        // The pool journals each account's new subscription a moment after Graph made it.
        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).Accounts.All(a => a.Users == a.SubscribedUsers && a.SubscriptionId is not null),
            what: "the pool knows every account's subscription");
    }

    [Fact]
    public async Task Users_beyond_capacity_are_listed_and_a_fifth_account_added_at_runtime_takes_them()
    {
        var users = MakeUsers(2900, "cap");
        Watch(users);
        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).WatchedUsers == 2600, TimeSpan.FromSeconds(60), "four accounts full");
        var full = await _loop.PoolStatusAsync();
        Assert.Equal(300, full.UnwatchedUsers);
        Assert.NotEmpty(full.UnwatchedSample);
        var metrics = _loop.Service.Services.GetRequiredService<PresenceMetrics>();
        await Eventually.TrueAsync(() => metrics.Unwatched >= 300, what: "unwatched users counted in the metric");
        await Eventually.TrueAsync(() => Tenant.ListSubscriptions().Sum(s => s.UserIds.Count) == 2600, TimeSpan.FromSeconds(60), "2,600 subscribed");

        var fifth = Tenant.AddUser("tech5@contoso.com", password: "Tech-5-runtime", technical: true);
        _loop.Service.Services.GetRequiredService<ISubscriptionGraph>().RegisterAccount(new TechnicalAccountCredentials(fifth.UserPrincipalName, "Tech-5-runtime"));
        var added = await _loop.Pool.Ask<CommandResult>(new AddAccount(fifth.UserPrincipalName), TimeSpan.FromSeconds(10));
        Assert.True(added.Ok, added.Message);

        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(30), "the 300 picked up by the fifth account");
        AssertOneSubscriptionPerAccountWithin650();
        Assert.Equal(5, Tenant.ListSubscriptions().Count);
        Assert.Equal(300, Tenant.ListSubscriptions().Single(s => s.CreatorId == fifth.Id).UserIds.Count);
        Assert.Equal(0, (await _loop.PoolStatusAsync()).UnwatchedUsers);
    }

    [Fact]
    public async Task Removing_an_account_drains_it_first_and_its_users_move()
    {
        var users = MakeUsers(1200, "drain");
        Watch(users);
        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(60), "watched");
        var leaving = (await _loop.PoolStatusAsync()).Accounts.First(a => a.Users > 0).Account;
        var leavingId = Tenant.FindUser(leaving)!.Id;

        var result = await _loop.Pool.Ask<CommandResult>(new RemoveAccount(leaving), TimeSpan.FromSeconds(10));
        Assert.True(result.Ok, result.Message);

        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).Accounts.All(a => a.Account != leaving), TimeSpan.FromSeconds(60), "account removed after draining");
        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(60), "every user watched by the remaining accounts");
        Assert.DoesNotContain(Tenant.ListSubscriptions(), s => s.CreatorId == leavingId);
        AssertOneSubscriptionPerAccountWithin650();
    }

    [Fact]
    public async Task Silently_lost_subscription_is_recreated_and_the_change_in_the_gap_is_caught_by_reconciliation()
    {
        var users = MakeUsers(20, "lost");
        Watch(users);
        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(30), "watched");
        var lost = Tenant.SubscriptionsWatching(users[0]).Single();

        Tenant.LoseSubscription(lost.Id);
        Tenant.SetClient(users[0], TeamsClientState.InACall); // nobody is told: no subscription covers the user now
        var sequence = Tenant.GetPresence(users[0]).SequenceNumber;

        await Eventually.TrueAsync(() => Tenant.SubscriptionsWatching(users[0]).Count == 1, TimeSpan.FromSeconds(30), "re-created");
        Assert.NotEqual(lost.Id, Tenant.SubscriptionsWatching(users[0]).Single().Id);
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(users[0])).Teams?.SequenceNumber == sequence, TimeSpan.FromSeconds(30),
            "the call made during the gap reached the user's actor");
        Assert.Equal("InACall", (await _loop.StateOfAsync(users[0])).Teams!.Activity.Value);
    }

    [Fact]
    public async Task Storm_of_429_on_subscriptions_and_bulk_reads_loses_no_subscription_and_retries_wait_for_retry_after()
    {
        _loop.Graph.Faults.Add(new SimFault { Api = "subscriptions.*", Status = 429, RetryAfterSeconds = 1, Count = 12 });
        _loop.Graph.Faults.Add(new SimFault { Api = "presence.getByUserId", Status = 429, RetryAfterSeconds = 1, Count = 6 });
        var users = MakeUsers(1200, "storm");
        Watch(users);

        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(90), "all watched despite the storm");
        _loop.Pool.Tell(new Resync([]));
        await Eventually.TrueAsync(() => _loop.Graph.Faults.Calls.Count(c => c.Api == "presence.getByUserId" && c.Status == 200) >= 2, TimeSpan.FromSeconds(60), "bulk reads went through");
        AssertOneSubscriptionPerAccountWithin650();

        var calls = _loop.Graph.Faults.Calls;
        var throttled = calls.Where(c => c.Status == 429).ToList();
        Assert.NotEmpty(throttled);
        Assert.Contains(throttled, r => calls.Any(c => c.At > r.At && c.ClientRequestId == r.ClientRequestId)); // some were retried by the SDK
        foreach (var refused in throttled)
        {
            Assert.NotNull(refused.ClientRequestId); // the SDK names each request, and keeps the name on its retries
            var next = calls.FirstOrDefault(c => c.At > refused.At && c.ClientRequestId == refused.ClientRequestId);
            if (next is not null)
                Assert.True(next.At - refused.At >= TimeSpan.FromSeconds(refused.RetryAfterSeconds!.Value) - TimeSpan.FromMilliseconds(50),
                    $"{refused.Api} by {refused.Caller} retried after {(next.At - refused.At).TotalMilliseconds:0} ms, before Retry-After {refused.RetryAfterSeconds} s");
        }
    }

    [Theory]
    [InlineData(50076, "multi-factor")]
    [InlineData(50053, "locked")]
    public async Task Account_that_cannot_sign_in_is_unhealthy_with_the_code_and_fix_and_its_users_move(int code, string fix)
    {
        var broken = Tenant.FindUser("tech1@contoso.com")!;
        broken.InjectedError = code;
        var users = MakeUsers(100, $"health{code}");
        Watch(users);

        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).Accounts.Single(a => a.Account == broken.UserPrincipalName) is { Healthy: false },
            TimeSpan.FromSeconds(30), "tech1 marked unhealthy");
        var status = (await _loop.PoolStatusAsync()).Accounts.Single(a => a.Account == broken.UserPrincipalName);
        Assert.Contains($"AADSTS{code}", status.Problem);
        Assert.Contains(fix, status.Problem);
        await Eventually.TrueAsync(() => AllWatched(users), TimeSpan.FromSeconds(30), "its users moved to healthy accounts");
        Assert.DoesNotContain(Tenant.ListSubscriptions(), s => s.CreatorId == broken.Id);
        Assert.Equal(0, (await _loop.PoolStatusAsync()).UnwatchedUsers);
    }

    [Fact]
    public async Task Expired_client_secret_marks_accounts_unhealthy_naming_the_fix()
    {
        Tenant.FindApplication(Loop.ClientId)!.InjectedError = 7000222;
        Watch(MakeUsers(10, "secret"));
        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).Accounts.Any(a => !a.Healthy), TimeSpan.FromSeconds(30), "an account unhealthy");
        var problem = (await _loop.PoolStatusAsync()).Accounts.First(a => !a.Healthy).Problem;
        Assert.Contains("AADSTS7000222", problem);
        Assert.Contains("clientSecret", problem);
    }
}
