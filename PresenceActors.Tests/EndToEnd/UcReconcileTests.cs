using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// The UC back end reports every user's current status at once (POST /api/v1/presence): a UC call whose end report was
/// lost ends then, and Teams is cleared, without waiting for presence.uc.maxCallLength.
/// </summary>
public class UcReconcileTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    [Fact]
    public async Task A_UC_call_whose_end_report_was_lost_ends_when_the_back_end_reports_everyone_and_nothing_else_changes()
    {
        var users = await _loop.AddUsersAsync(3, ucStatus: "Available", prefix: "reconcile");
        var (lost, lostTeams) = users[0];
        var (stillOnPhone, stillTeams) = users[1];
        await _loop.Uc.SetPhoneAsync(lost, true);
        await _loop.Uc.SetPhoneAsync(stillOnPhone, true);
        bool Session(string teamsId) => _loop.Graph.Tenant.FindUser(teamsId)!.Sessions.ContainsKey(Loop.ClientId);
        await Eventually.TrueAsync(() => Session(lostTeams.Id) && Session(stillTeams.Id), what: "both UC calls shown in Teams");

        // The PBX call of the first user ends, but the report is lost: Teams stays busy.
        _loop.Uc.EndCallUnreported(lost);
        Assert.True((await _loop.StateOfAsync(lostTeams.Id)).UcOnPhone);

        var (status, body) = await _loop.Uc.ReportAllAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body!["taken"]!.GetValue<int>() >= 3, body.ToJsonString());
        Assert.Empty(body["notTaken"]!.AsArray());

        await Eventually.TrueAsync(() => !Session(lostTeams.Id), what: "the lost call's session cleared");
        var state = await _loop.StateOfAsync(lostTeams.Id);
        Assert.False(state.UcOnPhone);
        Assert.Equal("U2", state.History[^1].Rule);
        // The call still going on is confirmed, not restarted; the third user had nothing to change.
        var ongoing = await _loop.StateOfAsync(stillTeams.Id);
        Assert.True(ongoing.UcOnPhone);
        Assert.True(Session(stillTeams.Id));
        Assert.Single(ongoing.History, h => h.Rule == "U1" && h.Detail.StartsWith("UC call started", StringComparison.Ordinal));
        Assert.Equal("Available", _loop.Uc.User(users[2].UcUserId)!.Status);

        await _loop.Uc.SetPhoneAsync(stillOnPhone, false);
        await Eventually.TrueAsync(() => !Session(stillTeams.Id), what: "the other call ended normally");
    }

    [Fact]
    public async Task A_bulk_report_with_a_bad_item_is_refused_naming_it_and_changes_nothing()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "reconcilebad"))[0];
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        var body = new JsonArray(
            new JsonObject { ["ucUserId"] = ucUserId, ["status"] = "Available", ["onPhone"] = true, ["at"] = DateTimeOffset.UtcNow.ToString("O") },
            new JsonObject { ["ucUserId"] = "someone-else", ["status"] = "Available", ["at"] = DateTimeOffset.UtcNow.ToString("O") });
        using var response = await http.PostAsync($"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/presence",
            new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("[1].onPhone", problem!["field"]!.GetValue<string>());
        Assert.False((await _loop.StateOfAsync(teams.Id)).UcOnPhone);
    }
}
