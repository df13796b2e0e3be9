using System.Net;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// kill -9 of the node the user registry singleton runs on while the UC back end registers users: registrations in
/// flight are refused (503) or cut off and sent again, as a UC back end does; the registry starts on another node and
/// sends again the links its users' actors had not confirmed. Afterwards every registered user is linked and syncs.
/// </summary>
[Collection(Alone.Name)]
public class RegistryFailoverTests(ITestOutputHelper output)
{
    private const int UserCount = 150;

    [Fact]
    public async Task Killing_the_registry_node_while_users_register_leaves_every_registered_user_linked_and_syncing()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 1);
        var graph = cluster.Graph;
        var uc = cluster.Uc;
        var users = new List<(string Uc, string Teams)>();
        for (var i = 0; i < UserCount; i++)
        {
            var teams = graph.Tenant.AddUser($"r{i:D3}@contoso.com");
            uc.AddUser($"uc-r{i:D3}");
            users.Add(($"uc-r{i:D3}", teams.Id));
        }

        // The oldest member runs every singleton: the subscription pool and the user registry.
        var registryNode = await cluster.SingletonNodeAsync();
        var registered = 0;
        var refused = 0;
        var next = -1;
        var registering = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < users.Count)
            {
                // Like the UC back end: a registration refused for now (503), cut off or unanswered is sent again.
                while (true)
                {
                    try
                    {
                        var (status, body) = await uc.RegisterAsync(users[i].Uc, users[i].Teams);
                        if (status == HttpStatusCode.OK)
                            break;
                        Assert.True(status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout, $"{users[i].Uc}: {status} {body}");
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                    }

                    Interlocked.Increment(ref refused);
                    await ClusterHarness.LastsAsync(TimeSpan.FromSeconds(1));
                }

                Interlocked.Increment(ref registered);
            }
        }));

        await Eventually.TrueAsync(() => Volatile.Read(ref registered) >= 30, TimeSpan.FromMinutes(2), "registrations under way");
        ClusterHarness.Kill(registryNode);
        var atKill = Volatile.Read(ref registered);
        await registering.WaitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine($"node {registryNode.Index} (registry) killed after {atKill} registrations; all {UserCount} registered in the end, {refused} attempts refused or cut off and sent again");

        await Eventually.TrueAsync(() => graph.Tenant.ListSubscriptions().SelectMany(s => s.UserIds).Distinct().Count() == UserCount, TimeSpan.FromMinutes(2),
            "every registered user watched");
        // Linked and syncing: a Teams call of every user reaches UC, and its end restores the status.
        foreach (var (_, teamsId) in users)
            graph.Tenant.SetClient(teamsId, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => users.All(u => uc.User(u.Uc)!.Status == "Busy"), TimeSpan.FromMinutes(2), "every registered user synced",
            () => Explain(cluster, users.Where(u => uc.User(u.Uc)!.Status != "Busy").ToList()));
        foreach (var (_, teamsId) in users)
            graph.Tenant.SetClient(teamsId, TeamsClientState.Available);
        await Eventually.TrueAsync(() => users.All(u => uc.User(u.Uc)!.Status == "Available"), TimeSpan.FromMinutes(1), "and restored");
    }

    private static string Explain(ClusterHarness cluster, List<(string Uc, string Teams)> wrong)
    {
        var live = cluster.Nodes.First(n => n.Running);
        var views = wrong.Take(3).Select(u =>
        {
            try
            {
                return cluster.AdminAsync(live, $"presence/users/{u.Uc}").GetAwaiter().GetResult().ToJsonString();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return $"{u.Uc}: {e.Message}";
            }
        });
        return $"{wrong.Count} not synced, e.g.\n{string.Join("\n", views)}\n{cluster.Report()}";
    }
}
