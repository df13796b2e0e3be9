using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// The UC back end's full list (<c>PUT /api/v1/users</c>): an empty or much shorter list than the registrations does
/// not wipe them unless the caller confirms how many go; the refusal says what would be removed and changes nothing.
/// </summary>
public class BulkRegistrationTests
{
    [Fact]
    public async Task A_list_that_would_remove_most_registrations_needs_the_count_confirmed_and_changes_nothing_until_then()
    {
        await using var loop = await Loop.StartAsync();
        var users = await loop.AddUsersAsync(4, prefix: "bulk");
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var api = $"https://127.0.0.1:{loop.Ports.InternalApi}/api/v1/users";
        object Entry(int i) => new { ucUserId = users[i].UcUserId, teamsUser = users[i].Teams.Id };
        async Task<int> RegisteredAsync()
        {
            var count = 0;
            foreach (var (ucUserId, _) in users)
            {
                using var response = await http.GetAsync($"{api}/{ucUserId}");
                count += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            return count;
        }

        // An empty list: refused with the number and the users it would remove; all four stay registered and watched.
        using (var empty = await http.PutAsJsonAsync(api, Array.Empty<object>()))
        {
            Assert.Equal(HttpStatusCode.Conflict, empty.StatusCode);
            var problem = (await empty.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("confirmRemoval", problem["field"]!.GetValue<string>());
            Assert.Equal(4, problem["wouldRemove"]!.GetValue<int>());
            Assert.Equal(users.Select(u => u.UcUserId).Order(StringComparer.Ordinal), problem["sample"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Contains("?confirmRemoval=4", problem["detail"]!.GetValue<string>());
        }

        Assert.Equal(4, await RegisteredAsync());
        Assert.All(users, u => Assert.Single(loop.Graph.Tenant.SubscriptionsWatching(u.Teams.Id)));

        // One of four kept would remove three: refused too.
        using (var short1 = await http.PutAsJsonAsync(api, new[] { Entry(0) }))
            Assert.Equal(HttpStatusCode.Conflict, short1.StatusCode);
        Assert.Equal(4, await RegisteredAsync());

        // Three of four kept removes one, not most: done without a confirmation.
        using (var three = await http.PutAsJsonAsync(api, new[] { Entry(0), Entry(1), Entry(2) }))
        {
            Assert.Equal(HttpStatusCode.OK, three.StatusCode);
            Assert.Equal([users[3].UcUserId], (await three.Content.ReadFromJsonAsync<JsonObject>())!["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        }

        Assert.Equal(3, await RegisteredAsync());

        // A wrong count confirms nothing; the right one removes them.
        using (var wrong = await http.PutAsJsonAsync($"{api}?confirmRemoval=4", Array.Empty<object>()))
            Assert.Equal(HttpStatusCode.Conflict, wrong.StatusCode);
        Assert.Equal(3, await RegisteredAsync());
        using (var confirmed = await http.PutAsJsonAsync($"{api}?confirmRemoval=3", Array.Empty<object>()))
        {
            Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
            Assert.Equal(3, (await confirmed.Content.ReadFromJsonAsync<JsonObject>())!["removed"]!.AsArray().Count);
        }

        Assert.Equal(0, await RegisteredAsync());
    }

    [Fact]
    public async Task While_a_member_of_an_earlier_release_is_in_the_cluster_the_full_list_is_registered_one_user_at_a_time()
    {
        // The node advertises none of this release's capabilities, as a node of the previous release would not: the list
        // must not use the registry's bulk messages, which that release cannot read, and still does everything.
        await using var loop = await Loop.StartAsync(adjust: o => o with { Node = o.Node with { Cluster = o.Node.Cluster with { Capabilities = [] } } });
        var kept = await loop.AddUsersAsync(2, prefix: "old");
        var fresh = Enumerable.Range(0, 3).Select(i => loop.Graph.Tenant.AddUser($"fresh{i}.{Guid.NewGuid():N}@contoso.com")).ToList();
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var list = new List<object>
        {
            new { ucUserId = kept[0].UcUserId, teamsUser = kept[0].Teams.Id },
            new { ucUserId = "uc-fresh-0", teamsUser = fresh[0].UserPrincipalName },
            new { ucUserId = "uc-fresh-1", teamsUser = fresh[1].Id },
            new { ucUserId = "uc-taken", teamsUser = fresh[1].Id }, // the same Teams user twice: a conflict for one of them
        };

        using var response = await http.PutAsJsonAsync($"https://127.0.0.1:{loop.Ports.InternalApi}/api/v1/users", list);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        string[] Names(string field) => [.. body[field]!.AsArray().Select(n => n is JsonObject o ? o["ucUserId"]!.GetValue<string>() : n!.GetValue<string>()).Order(StringComparer.Ordinal)];
        Assert.Equal([kept[0].UcUserId], Names("unchanged"));
        Assert.Equal([kept[1].UcUserId], Names("removed"));
        // One user at a time, side by side: which of the two UC users claims the Teams user first is not fixed.
        Assert.Contains("uc-fresh-0", Names("added"));
        Assert.Equal(["uc-fresh-0", "uc-fresh-1", "uc-taken"], Names("added").Concat(Names("failures")).Order(StringComparer.Ordinal));
        Assert.Single(Names("failures"));
        Assert.Contains("already mapped", body["failures"]![0]!["error"]!.GetValue<string>());

        // Registered and watched, as with the bulk messages.
        await Eventually.TrueAsync(() => loop.Graph.Tenant.SubscriptionsWatching(fresh[0].Id).Count == 1, what: "the new users watched");
        Assert.Empty(loop.Graph.Tenant.SubscriptionsWatching(kept[1].Teams.Id));
    }

    [Fact]
    public async Task A_list_Graph_cannot_be_asked_about_is_answered_503_and_changes_nothing()
    {
        await using var loop = await Loop.StartAsync();
        var users = await loop.AddUsersAsync(4, prefix: "bulk503");
        var newcomer = loop.Graph.Tenant.AddUser($"newcomer.{Guid.NewGuid().ToString("N")[..8]}@contoso.com");
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var api = $"https://127.0.0.1:{loop.Ports.InternalApi}/api/v1/users";
        // Three of the four stay, the fourth goes, the newcomer comes: the newcomer must be looked up in Entra ID.
        var list = users.Take(3).Select(u => new { ucUserId = u.UcUserId, teamsUser = u.Teams.Id })
            .Append(new { ucUserId = "bulk503-newcomer", teamsUser = newcomer.UserPrincipalName }).ToArray();

        loop.Graph.Faults.Add(new PresenceActors.Simulators.Graph.SimFault { Api = "users.list", Status = 500 });
        using (var refused = await http.PutAsJsonAsync(api, list))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("teamsUser", (await refused.Content.ReadFromJsonAsync<JsonObject>())!["field"]!.GetValue<string>());
        }

        // Nothing changed: the fourth is still registered and watched, the newcomer is not registered.
        using (var fourth = await http.GetAsync($"{api}/{users[3].UcUserId}"))
            Assert.Equal(HttpStatusCode.OK, fourth.StatusCode);
        using (var absent = await http.GetAsync($"{api}/bulk503-newcomer"))
            Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
        Assert.Single(loop.Graph.Tenant.SubscriptionsWatching(users[3].Teams.Id));

        loop.Graph.Faults.Clear();
        using (var done = await http.PutAsJsonAsync(api, list))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            var body = (await done.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal(["bulk503-newcomer"], body["added"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Equal([users[3].UcUserId], body["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        }
    }
}
