using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using PresenceActors.Graph;
using PresenceActors.Host.Configuration;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// Several Entra applications (docs/graph-budget.md, "Several applications") against the Graph simulator, which keeps a
/// presence budget and sessions per application and allows one subscription per technical user and application.
/// </summary>
public class SeveralApplicationsTests
{
    private const string SecondClientId = "7a3e9c41-2b8d-4f6a-9e15-3c7d2a8b4f60";
    private const string SecondSecret = "second-app-secret~0123456789abcdef";

    private static int PresenceCallsAnswered429(Loop loop) =>
        loop.Graph.Faults.Calls.Count(c => c.Api.StartsWith("presence", StringComparison.Ordinal) && c.Status == 429);

    private static string? SessionHolder(Loop loop, string userId) => loop.Graph.Tenant.FindUser(userId)!.Sessions.Keys.SingleOrDefault();

    [Fact]
    public async Task Two_applications_split_the_users_and_each_stays_within_its_own_budget()
    {
        // A budget of 4 calls per 5 s, at Graph and in the governors: twelve UC calls starting at once are three
        // windows of one application's budget.
        const int budget = 4;
        var window = TimeSpan.FromSeconds(5);
        await using var loop = await Loop.StartAsync(
            adjust: o => o with { Graph = o.Graph with { PresenceBudget = budget, PresenceBudgetWindow = window, MoreApplications = [new GraphApplication(SecondClientId, SecondSecret)] } },
            prepareGraph: g =>
            {
                g.Faults.Limits["presence"] = (budget, window);
                g.Tenant.AddApplication(SecondClientId, SecondSecret);
            });
        var gateway = loop.Service.Services.GetRequiredService<GraphGateway>();
        var users = await loop.AddUsersAsync(12, prefix: "split");

        var from = loop.Graph.Faults.Calls.Count;
        foreach (var (uc, _) in users)
            await loop.Uc.SetPhoneAsync(uc, true);
        await Eventually.TrueAsync(() => users.All(u => SessionHolder(loop, u.Teams.Id) is not null), TimeSpan.FromSeconds(90), "every UC call shown in Teams");

        // Each user's session is held by the application the spread gives it, and both applications hold some.
        foreach (var (_, teams) in users)
            Assert.Equal(gateway.ApplicationFor(teams.Id), SessionHolder(loop, teams.Id), StringComparer.OrdinalIgnoreCase);
        var holders = users.Select(u => SessionHolder(loop, u.Teams.Id)!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Equal(new[] { Loop.ClientId, SecondClientId }, holders.Order(StringComparer.OrdinalIgnoreCase));

        foreach (var (uc, _) in users)
            await loop.Uc.SetPhoneAsync(uc, false);
        await Eventually.TrueAsync(() => users.All(u => SessionHolder(loop, u.Teams.Id) is null), TimeSpan.FromSeconds(90), "every session cleared");
        await Eventually.TrueAsync(() => users.All(u => loop.GraphAnswered("presence.clear", u.Teams.Id, from)), TimeSpan.FromSeconds(10), "every clear logged");

        // Graph, which counts each application's budget on its own, refused nothing: each stayed within its own budget,
        // while the two together sent more than one application's budget within one window.
        Assert.Equal(0, PresenceCallsAnswered429(loop));
        var writes = loop.Graph.Faults.Calls.Skip(from).Where(c => c.Api is "presence.set" or "presence.clear").ToList();
        Assert.All(users, u => Assert.Equal(2, writes.Count(c => c.Path.Contains(u.Teams.Id, StringComparison.OrdinalIgnoreCase))));
        var presenceCalls = loop.Graph.Faults.Calls.Skip(from).Where(c => c.Api.StartsWith("presence", StringComparison.Ordinal) && c.Status < 400).ToList();
        var busiestWindow = presenceCalls.Max(c => presenceCalls.Count(o => o.At >= c.At && o.At < c.At + window));
        Assert.True(busiestWindow > budget, $"at most {busiestWindow} presence calls went out within {window.TotalSeconds} s");

        // A session whose application is not known (a first set cut short by a stop) is cleared by each application.
        var (_, last) = users[^1];
        foreach (var application in gateway.Applications)
            await gateway.SetCallPresenceAsync(last.Id, new PresenceActors.Users.TeamsSessionRequest(PresenceActors.Users.TeamsShown.InACall, TimeSpan.FromMinutes(5), false) { Application = application }, CancellationToken.None);
        Assert.Equal(2, loop.Graph.Tenant.FindUser(last.Id)!.Sessions.Count);
        Assert.False(await gateway.ClearCallPresenceAsync(last.Id, PresenceActors.Users.TeamsSession.AnyApplication, CancellationToken.None));
        Assert.Empty(loop.Graph.Tenant.FindUser(last.Id)!.Sessions);
        Assert.True(await gateway.ClearCallPresenceAsync(last.Id, PresenceActors.Users.TeamsSession.AnyApplication, CancellationToken.None));
    }

    [Fact]
    public async Task An_application_added_at_runtime_takes_users_without_a_lost_change()
    {
        await using var loop = await Loop.StartAsync();
        var file = Path.Combine(Path.GetTempPath(), $"presence-apps-{Guid.NewGuid():N}.properties");
        var (user1, password1) = loop.Accounts[0];
        await File.WriteAllTextAsync(file, $"azure.activedirectory.clientId = {Loop.ClientId}\n" +
                                           $"azure.activedirectory.technical.user.username = {user1}\nazure.activedirectory.technical.user.password = {password1}\n");
        try
        {
            var gateway = loop.Service.Services.GetRequiredService<GraphGateway>();
            await using var watching = WatcherScope.Start(loop, file);

            // UC calls in progress, their sessions held by the first application; and one user about to start a Teams call.
            var inCall = await loop.AddUsersAsync(8, prefix: "held");
            var (teamsCallerUc, teamsCaller) = (await loop.AddUsersAsync(1, prefix: "teams"))[0];
            foreach (var (uc, _) in inCall)
                await loop.Uc.SetPhoneAsync(uc, true);
            await Eventually.TrueAsync(() => inCall.All(u => SessionHolder(loop, u.Teams.Id) == Loop.ClientId), TimeSpan.FromSeconds(60), "sessions on the first application");

            // The first technical user's subscription is full: five more users stay unwatched for want of a place.
            var fillers = Enumerable.Range(0, 650 - 9 + 5).Select(i => loop.Graph.Tenant.AddUser($"fill{i}@contoso.com").Id).ToList();
            loop.Pool.Tell(new SubscriptionPoolCommands.WatchUsers([.. fillers]), Akka.Actor.ActorRefs.NoSender);
            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).UnwatchedUsers == 5, TimeSpan.FromSeconds(30), "5 unwatched");

            // The second application, chosen so that the spread gives it some of the users in a call (decided up front,
            // so that the test does not depend on chance).
            var second = Enumerable.Range(0, 1000).Select(i => $"7a3e9c41-2b8d-4f6a-9e15-{i:x12}")
                .First(id => inCall.Count(u => GraphGateway.Spread(u.Teams.Id, [Loop.ClientId, id]) == 1) is >= 3 and <= 5);
            loop.Graph.Tenant.AddApplication(second, SecondSecret);
            var from = loop.Graph.Faults.Calls.Count;
            await File.AppendAllTextAsync(file, $"azure.activedirectory.applications[0].clientId = {second}\nazure.activedirectory.applications[0].clientSecret = {SecondSecret}\n");
            loop.Graph.Tenant.SetClient(teamsCaller.Id, TeamsClientState.InACall); // a change while the application is added

            // The technical user's place under the new application takes the five, with a subscription of that application.
            var place = SubscriptionSlots.Name(user1, second, firstApplication: false);
            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).Accounts.Any(a => a.Account == place && a.SubscribedUsers == 5),
                TimeSpan.FromSeconds(60), "the new place holds the five");
            Assert.Equal(0, (await loop.PoolStatusAsync()).UnwatchedUsers);
            Assert.Equal(5, fillers.Count(f => loop.Graph.Tenant.SubscriptionsWatching(f).Any(s => s.ApplicationId == second)));
            Assert.Equal(new[] { Loop.ClientId, second }, gateway.Applications);
            await Eventually.TrueAsync(() => loop.Uc.User(teamsCallerUc)!.Status == "Busy", TimeSpan.FromSeconds(60), "the Teams call made while it was added reached UC");

            // The calls in progress end: each session is cleared by the application that set it, whichever the spread
            // now names, and none is left holding Teams busy.
            foreach (var (uc, _) in inCall)
                await loop.Uc.SetPhoneAsync(uc, false);
            await Eventually.TrueAsync(() => inCall.All(u => SessionHolder(loop, u.Teams.Id) is null), TimeSpan.FromSeconds(60), "every session cleared");
            await Eventually.TrueAsync(() => inCall.All(u => loop.GraphAnswered("presence.clear", u.Teams.Id, from)), TimeSpan.FromSeconds(10), "every clear logged");
            var clears = loop.Graph.Faults.Calls.Skip(from).Where(c => c.Api == "presence.clear").ToList();
            Assert.All(inCall, u => Assert.Contains(clears, c => c.Path.Contains(u.Teams.Id, StringComparison.OrdinalIgnoreCase) && c.Caller == $"app:{Loop.ClientId}" && c.Status == 200));
            Assert.DoesNotContain(clears, c => c.Status == 404);

            // Their next calls are set by the application the spread names now: some by the new one.
            foreach (var (uc, _) in inCall)
                await loop.Uc.SetPhoneAsync(uc, true);
            await Eventually.TrueAsync(() => inCall.All(u => SessionHolder(loop, u.Teams.Id) is not null), TimeSpan.FromSeconds(60), "the next calls shown");
            Assert.All(inCall, u => Assert.Equal(gateway.ApplicationFor(u.Teams.Id), SessionHolder(loop, u.Teams.Id)));
            Assert.InRange(inCall.Count(u => SessionHolder(loop, u.Teams.Id) == second), 3, 5);

            // A user registered now lands on the new place, and its Teams changes arrive through that application's
            // subscription (its validation tokens name that application).
            var (lateUc, late) = (await loop.AddUsersAsync(1, prefix: "late"))[0];
            Assert.Contains(loop.Graph.Tenant.SubscriptionsWatching(late.Id), s => s.ApplicationId == second);
            loop.Graph.Tenant.SetClient(late.Id, TeamsClientState.InACall);
            await Eventually.TrueAsync(() => loop.Uc.User(lateUc)!.Status == "Busy", TimeSpan.FromSeconds(60), "a Teams call through the new application's subscription");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
