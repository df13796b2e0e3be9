using System.Net;
using System.Net.Http.Json;
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

        // The mapping is the cluster's: previewed and saved on one node, it reaches the users held by every node.
        var presenting = users.Take(20).ToList();
        foreach (var (_, teamsId) in presenting)
            graph.Tenant.SetClient(teamsId, TeamsClientState.Presenting);
        var live = cluster.Nodes.Where(n => n.Running).ToList();
        foreach (var (_, teamsId) in presenting)
        {
            await Eventually.TrueAsync(async () => (await cluster.AdminAsync(live[0], $"presence/users/{teamsId}"))["user"]!["teamsActivity"]?.GetValue<string>() == "Presenting",
                TimeSpan.FromMinutes(1), "presenting seen by the service");
        }

        var holders = new HashSet<int>();
        foreach (var (_, teamsId) in presenting)
            holders.Add((await cluster.HolderOfAsync(teamsId)).Index);
        var table = await cluster.AdminAsync(live[0], "mapping");
        table["teamsToUc"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["activity"] = "Presenting", ["ucStatus"] = "Busy" });
        using var http = ClusterHarness.AdminClient(live[^1]);
        using var preview = await http.PostAsJsonAsync($"http://127.0.0.1:{live[^1].Admin}/admin/mapping/preview", new { mapping = table });
        var previewed = System.Text.Json.Nodes.JsonNode.Parse(await preview.Content.ReadAsStringAsync())!;
        Assert.True(preview.IsSuccessStatusCode, previewed.ToJsonString());
        Assert.Equal(presenting.Select(u => u.Teams).Order(), previewed["changes"]!.AsArray().Select(c => c!["userId"]!.GetValue<string>()).Order());
        using var save = await http.PostAsJsonAsync($"http://127.0.0.1:{live[^1].Admin}/admin/mapping",
            new { mapping = table, basedOn = table["version"]!.GetValue<int>(), comment = "presenting counts" });
        Assert.True(save.IsSuccessStatusCode, await save.Content.ReadAsStringAsync());
        await Eventually.TrueAsync(() => presenting.All(u => uc.User(u.Uc)!.Status == "Busy"), TimeSpan.FromSeconds(30),
            $"every presenter busy (their actors on nodes {string.Join(", ", holders.Order())})");
        foreach (var node in live)
            Assert.Equal(1, (await cluster.AdminAsync(node, "mapping"))["version"]!.GetValue<int>());
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
