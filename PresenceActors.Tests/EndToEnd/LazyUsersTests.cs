using System.Net;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// Lazy user actors (docs/scale.md): registering and watching users starts none of their actors; a user's first event
/// links it (from the registry for a Teams change, from the report itself for a UC one); a full read reaches the users
/// holding work and leaves idle ones alone.
/// </summary>
public class LazyUsersTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Registering_and_watching_users_starts_no_actor_and_each_users_first_event_links_it()
    {
        await using var loop = await Loop.StartAsync();
        var users = await RegisterAsync(loop, 12, "lazy");
        await loop.ReadsHandedOnAsync(users.Count);
        var metrics = loop.Service.Services.GetRequiredService<PresenceMetrics>();
        Assert.Equal(0, metrics.BulkReadsForwarded); // everyone Available and idle: the new subscription's read reached nobody
        Assert.Empty(await LiveActorsAsync(loop));

        // A Teams call: the actor starts, asks the registry for its link, and the call crosses (T1).
        var (teamsCaller, teamsCallerUser) = users[0];
        loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(teamsCaller)!.Status == "Busy", what: "the first Teams call crosses");
        Assert.Equal(teamsCaller, (await loop.StateOfAsync(teamsCallerUser.Id)).UcUserId);

        // A UC phone call: the report names the UC user, so the actor links itself before judging it (U1).
        var (phoneCaller, phoneCallerUser) = users[1];
        Assert.Equal(HttpStatusCode.Accepted, await loop.Uc.SetPhoneAsync(phoneCaller, true));
        await Eventually.TrueAsync(() => loop.Graph.Tenant.GetPresence(phoneCallerUser.Id).Activity == "InACall", what: "the first UC call shown in Teams");
        Assert.Equal(phoneCaller, (await loop.StateOfAsync(phoneCallerUser.Id)).UcUserId);

        // Only the two users with an event have actors (the two asked about above, by the state queries, included).
        Assert.Equal(new[] { phoneCallerUser.Id, teamsCallerUser.Id }.Order(StringComparer.Ordinal), (await LiveActorsAsync(loop)).Order(StringComparer.Ordinal));

        // Both wind down as usual.
        loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.Available);
        Assert.Equal(HttpStatusCode.Accepted, await loop.Uc.SetPhoneAsync(phoneCaller, false));
        await Eventually.TrueAsync(() => loop.Uc.User(teamsCaller)!.Status == "Available", what: "the UC status restored");
        await Eventually.TrueAsync(() => loop.Graph.Tenant.GetPresence(phoneCallerUser.Id).Activity == "Available", what: "the Teams session cleared");
    }

    [Fact]
    public async Task A_full_read_reaches_a_user_whose_call_end_was_never_notified_and_leaves_idle_users_alone()
    {
        await using var loop = await Loop.StartAsync();
        var users = await RegisterAsync(loop, 5, "work");
        await loop.ReadsHandedOnAsync(users.Count);
        var metrics = loop.Service.Services.GetRequiredService<PresenceMetrics>();
        var inFlight = loop.Service.Services.GetRequiredService<WorkInFlight>();

        var (ucUserId, teams) = users[0];
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "the Teams call crossed");
        await Eventually.TrueAsync(() => inFlight.Contains(teams.Id), what: "the user listed as holding work");

        // The call's end is never notified (Graph dropped it).
        loop.Graph.Delivery.Faults = new SimDeliveryFaults { DropRate = 1 };
        var dropped = loop.Graph.Delivery.DroppedByFault;
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => loop.Graph.Delivery.DroppedByFault > dropped, what: "the end of the call dropped");
        loop.Graph.Delivery.Faults = new SimDeliveryFaults();
        Assert.Equal("Busy", loop.Uc.User(ucUserId)!.Status);

        // A full read (the reconciliation's, here asked for as after a lost member): Available is not news for an idle
        // user, but this one holds a call, so it reaches the actor and the status comes back; the others are left alone.
        var leftIdle = metrics.BulkReadsLeftIdle;
        loop.Pool.Tell(new SubscriptionPoolCommands.Resync([]));
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Available", what: "the status restored by the read");
        await Eventually.TrueAsync(() => metrics.BulkReadsLeftIdle >= leftIdle + users.Count - 1, what: "the idle users' reads left alone");
        await Eventually.TrueAsync(() => !inFlight.Contains(teams.Id), what: "the user no longer listed as holding work");
        Assert.Equal([teams.Id], await LiveActorsAsync(loop));
    }

    [Fact]
    public async Task A_full_uc_report_links_the_synchronised_users_it_names_and_not_those_left_out()
    {
        await using var loop = await Loop.StartAsync();
        var users = await RegisterAsync(loop, 2, "report");
        await loop.ReadsHandedOnAsync(users.Count);
        var (inUc, inTeams) = users[0];
        var (outUc, outTeams) = users[1];
        Assert.Equal(HttpStatusCode.OK, await loop.Uc.SetSynchronisedAsync(outUc, false));

        // Both on the phone, told in one full report (POST /api/v1/presence), the first thing their actors hear.
        foreach (var uc in new[] { inUc, outUc })
        {
            var user = loop.Uc.User(uc)!;
            lock (user)
                user.OnPhone = true;
        }

        var (status, body) = await loop.Uc.ReportAllAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body!["taken"]!.GetValue<int>());
        await Eventually.TrueAsync(() => loop.Graph.Tenant.GetPresence(inTeams.Id).Activity == "InACall", what: "the synchronised user's call shown in Teams");
        Assert.Equal(inUc, (await loop.StateOfAsync(inTeams.Id)).UcUserId);
        // The left-out user's report was taken (journaled) and linked nothing: no session, Teams as it was.
        var left = await loop.StateOfAsync(outTeams.Id);
        Assert.True(left.UcOnPhone);
        Assert.False(left.Linked);
        Assert.Equal("Available", loop.Graph.Tenant.GetPresence(outTeams.Id).Activity);
    }

    /// <summary>Registers users through the internal API without any report of their UC status, and waits until watched.</summary>
    [Fact]
    public async Task A_link_question_lost_on_its_way_is_asked_again_after_the_production_interval_and_the_call_crosses_then()
    {
        await using var loop = await Loop.StartAsync();
        var (ucUserId, teams) = (await RegisterAsync(loop, 1, "lost"))[0];
        await loop.ReadsHandedOnAsync(1);

        // The registry as user actors find it, behind a relay that loses the first question (as with a registry moving).
        var registry = Akka.Hosting.ActorRegistry.For(loop.System).Get<PresenceActors.Registration.UserRegistryKey>();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var relay = loop.System.ActorOf(Props.Create(() => new LosingRelay(registry, first, second)), "losing-relay");
        Akka.Hosting.ActorRegistry.For(loop.System).Register<PresenceActors.Registration.UserRegistryKey>(relay, overwrite: true);
        try
        {
            loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
            await first.Task.WaitAsync(Wait); // the call reached the actor, which asked, and the question was lost
            Assert.NotEqual("Busy", loop.Uc.User(ucUserId)!.Status);

            await second.Task.WaitAsync(UserPresenceActor.AskLinkAgainAfter + Wait);
            await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "the call crosses once the link came");
            Assert.Equal(ucUserId, (await loop.StateOfAsync(teams.Id)).UcUserId);
        }
        finally
        {
            Akka.Hosting.ActorRegistry.For(loop.System).Register<PresenceActors.Registration.UserRegistryKey>(registry, overwrite: true);
        }
    }

    /// <summary>Loses the first link question it is sent, and forwards everything else to the registry.</summary>
    private sealed class LosingRelay : ReceiveActor
    {
        public LosingRelay(IActorRef registry, TaskCompletionSource first, TaskCompletionSource second)
        {
            var questions = 0;
            Receive<UserPresenceCommands.LinkState>(state =>
            {
                if (++questions == 1)
                {
                    first.TrySetResult();
                    return;
                }

                second.TrySetResult();
                registry.Forward(state);
            });
            ReceiveAny(registry.Forward);
        }
    }

    private static async Task<List<(string UcUserId, SimUser Teams)>> RegisterAsync(Loop loop, int count, string prefix)
    {
        var users = new List<(string, SimUser)>();
        for (var i = 0; i < count; i++)
        {
            var teams = loop.Graph.Tenant.AddUser($"{prefix}{i}.{Guid.NewGuid().ToString("N")[..8]}@contoso.com");
            var ucUserId = $"{prefix}-{i}-{teams.Id[..8]}";
            loop.Uc.AddUser(ucUserId, "Available");
            Assert.Equal(HttpStatusCode.OK, (await loop.Uc.RegisterAsync(ucUserId, teams.UserPrincipalName)).Status);
            users.Add((ucUserId, teams));
        }

        await Eventually.TrueAsync(() => users.All(u => loop.Graph.Tenant.SubscriptionsWatching(u.Item2.Id).Count == 1), TimeSpan.FromSeconds(30),
            "every registered user watched");
        return users;
    }

    private static async Task<List<string>> LiveActorsAsync(Loop loop)
    {
        var state = await loop.Users.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, Wait);
        return [.. state.Shards.SelectMany(s => s.EntityIds)];
    }
}
