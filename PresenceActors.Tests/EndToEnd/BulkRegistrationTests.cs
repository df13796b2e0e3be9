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
