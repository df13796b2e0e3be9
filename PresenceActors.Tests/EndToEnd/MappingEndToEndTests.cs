using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// The editable mapping, busy-on-busy and opt-out through the whole loop (docs/mapping.md): edited with <c>ctl</c>,
/// carried out against the Graph simulator (which models what Teams does with an incoming Teams call) and the UC simulator.
/// The tests of this class share one loop and take turns with its mapping: each one sets the table it needs.
/// </summary>
public class MappingEndToEndTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    private async Task<(int Exit, string Output, string Errors)> Ctl(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var root = new RootCommand { PresenceActors.Host.Admin.Ctl.Build(output, errors) };
        var exit = await root.Parse(["ctl", .. args, "--url", $"http://127.0.0.1:{_loop.Ports.Admin}"]).InvokeAsync();
        return (exit, output.ToString(), errors.ToString());
    }

    private async Task<JsonObject> CurrentTableAsync()
    {
        var (exit, output, errors) = await Ctl("mapping", "show", "--json");
        Assert.True(exit == 0, errors);
        return JsonNode.Parse(output)!.AsObject();
    }

    /// <summary>Saves <paramref name="edit"/> of the table in force with `ctl mapping set`; returns ctl's output.</summary>
    private async Task<(int Exit, string Output, string Errors)> SetTableAsync(Action<JsonObject> edit, string comment)
    {
        var table = await CurrentTableAsync();
        edit(table);
        var file = Path.Combine(Path.GetTempPath(), $"mapping-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, table.ToJsonString());
        try
        {
            return await Ctl("mapping", "set", file, "--comment", comment);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void Seed(JsonObject table)
    {
        table["teamsToUc"] = new JsonArray(Row("InACall", null, "Busy"), Row("InAConferenceCall", null, "Busy"));
        table["ucToTeams"] = new JsonArray(UcRow("phone", "Busy", "InACall"));
        table["busyOnBusy"] = false;
        table["busyOnBusyOn"] = new JsonArray();
        table["busyOnBusyOff"] = new JsonArray();
    }

    private static JsonObject Row(string activity, string? availability, string ucStatus) =>
        new() { ["activity"] = activity, ["availability"] = availability, ["ucStatus"] = ucStatus };

    private static JsonObject UcRow(string trigger, string availability, string activity) =>
        new() { ["trigger"] = trigger, ["availability"] = availability, ["activity"] = activity };

    private bool OurSessionOn(SimUser user) => _loop.Graph.Tenant.FindUser(user.Id)!.Sessions.ContainsKey(Loop.ClientId);

    [Fact]
    public async Task Busy_on_busy_rejects_an_incoming_Teams_call_during_a_UC_call_and_the_default_does_not()
    {
        Assert.Equal(0, (await SetTableAsync(Seed, "the seed's table")).Exit);
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "bob"))[0];

        // The default: our session shows Busy/InACall, which Teams does not take as a reason to reject a Teams call.
        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => OurSessionOn(teams), what: "our session on Graph");
        Assert.Equal(("Busy", "InACall"), Shown(teams));
        var rings = _loop.Graph.Tenant.IncomingTeamsCall(teams.Id);
        Assert.True(rings.Rings, rings.Reason);
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !OurSessionOn(teams), what: "our session cleared");

        // Busy-on-busy for this user (by ctl): DoNotDisturb/Presenting, and the incoming Teams call is rejected.
        var (exit, output, errors) = await Ctl("mapping", "busy-on-busy", ucUserId, "on");
        Assert.True(exit == 0, errors);
        Assert.Contains("saved", output);
        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => OurSessionOn(teams) && Shown(teams) == ("DoNotDisturb", "Presenting"), what: "our DoNotDisturb session on Graph");
        var rejected = _loop.Graph.Tenant.IncomingTeamsCall(teams.Id);
        Assert.False(rejected.Rings);
        Assert.Equal("do not disturb", rejected.Reason);

        // Graph's precedence: DoNotDisturb outranks the person's own Teams call, which Teams still shows as ours. The
        // service takes the covered call for nothing until its session is gone: then a read finds the call and UC follows.
        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        Assert.Equal(("DoNotDisturb", "Presenting"), Shown(teams));
        await _loop.CaughtUpAsync(teams);
        Assert.Equal(0, (await _loop.StateOfAsync(teams.Id)).Outbox.LastSequence); // no UC update was ever decided for it

        // The restore after the UC call is the same clearPresence; the covered Teams call then crosses to UC.
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !OurSessionOn(teams), what: "our session cleared");
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "the Teams call found after our session ended");
        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Available", what: "UC restored");

        var history = await Ctl("mapping", "history");
        Assert.Contains($"busy-on-busy on for {ucUserId}", history.Output);
        Assert.Contains("ctl, no token set from 127.0.0.1", history.Output);
    }

    private (string, string) Shown(SimUser user)
    {
        var presence = _loop.Graph.Tenant.GetPresence(user.Id);
        return (presence.Availability, presence.Activity);
    }

    [Fact]
    public async Task A_custom_mapping_crosses_Presenting_and_DoNotDisturb_both_ways_with_preview_and_the_persons_change_winning()
    {
        Assert.Equal(0, (await SetTableAsync(Seed, "the seed's table")).Exit);
        var users = await _loop.AddUsersAsync(3, ucStatus: "Available", prefix: "carol");
        var (presenter, teamsPresenter) = users[0];
        var (quiet, teamsQuiet) = users[1];
        var (ucDnd, teamsUcDnd) = users[2];

        // Under the seed's table presenting does not cross.
        _loop.Graph.Tenant.SetClient(teamsPresenter.Id, TeamsClientState.Presenting);
        await _loop.CaughtUpAsync(teamsPresenter);
        Assert.Equal("Available", _loop.Uc.User(presenter)!.Status);

        // The preview names the presenter, who would go Busy, and nobody else of these.
        var custom = (Action<JsonObject>)(table =>
        {
            Seed(table);
            table["teamsToUc"]!.AsArray().Add(Row("Presenting", null, "Busy"));
            table["teamsToUc"]!.AsArray().Add(Row("DoNotDisturb", "DoNotDisturb", "DND"));
            table["ucToTeams"]!.AsArray().Add(UcRow("Do not disturb", "DoNotDisturb", "Presenting"));
        });
        var proposed = await CurrentTableAsync();
        custom(proposed);
        var file = Path.Combine(Path.GetTempPath(), $"mapping-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, proposed.ToJsonString());
        var preview = await Ctl("mapping", "preview", file);
        File.Delete(file);
        Assert.True(preview.Exit == 0, preview.Errors);
        Assert.Contains(presenter, preview.Output);
        Assert.Contains("UC Busy", preview.Output);
        Assert.DoesNotContain(quiet, preview.Output);
        Assert.Equal("Available", _loop.Uc.User(presenter)!.Status); // a preview changes nothing

        var saved = await SetTableAsync(custom, "Presenting and DND cross");
        Assert.True(saved.Exit == 0, saved.Errors);
        Assert.Contains(presenter, saved.Output);
        await Eventually.TrueAsync(() => _loop.Uc.User(presenter)!.Status == "Busy", what: "the presenter busy once the table is saved");

        // The person changes UC during the presentation: their choice stands when it ends.
        await _loop.Uc.SetStatusAsync(presenter, "Lunch");
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(teamsPresenter.Id)).UcChangedDuringCall, what: "the change seen during the crossing");
        _loop.Graph.Tenant.SetClient(teamsPresenter.Id, TeamsClientState.Available);
        await _loop.CaughtUpAsync(teamsPresenter);
        Assert.Equal("Lunch", _loop.Uc.User(presenter)!.Status);
        // Only the crossing's Busy (and, when it came before our update's acknowledgement, the person's own choice
        // re-asserted): never the restore to Available.
        Assert.Equal("Busy", _loop.Uc.Updates.First(u => u.UcUserId == presenter).Status);
        Assert.DoesNotContain(_loop.Uc.Updates, u => u.UcUserId == presenter && u.Status == "Available");

        // Teams DoNotDisturb → UC DND, and back to the prior status.
        _loop.Graph.Tenant.SetPreferredPresence(teamsQuiet.Id, "DoNotDisturb", "DoNotDisturb", null);
        await Eventually.TrueAsync(() => _loop.Uc.User(quiet)!.Status == "DND", what: "UC DND while Teams is DoNotDisturb");
        _loop.Graph.Tenant.ClearPreferredPresence(teamsQuiet.Id);
        await Eventually.TrueAsync(() => _loop.Uc.User(quiet)!.Status == "Available", what: "UC restored");

        // UC "Do not disturb" → our Teams session DoNotDisturb/Presenting, which the service takes for its own echo.
        await _loop.Uc.SetStatusAsync(ucDnd, "Do not disturb");
        await Eventually.TrueAsync(() => OurSessionOn(teamsUcDnd) && Shown(teamsUcDnd) == ("DoNotDisturb", "Presenting"), what: "Teams DoNotDisturb from UC");
        await _loop.CaughtUpAsync(teamsUcDnd);
        Assert.DoesNotContain(_loop.Uc.Updates, u => u.UcUserId == ucDnd); // the echo of our session wrote nothing to UC
        await _loop.Uc.SetStatusAsync(ucDnd, "Available");
        await Eventually.TrueAsync(() => !OurSessionOn(teamsUcDnd), what: "our session cleared");
    }

    [Fact]
    public async Task A_mapping_that_could_loop_is_refused_naming_the_rows_and_nothing_changes()
    {
        var before = await CurrentTableAsync();
        var refused = await SetTableAsync(table =>
        {
            Seed(table);
            table["teamsToUc"]!.AsArray().Add(Row("DoNotDisturb", null, "DND"));
            table["ucToTeams"]!.AsArray().Add(UcRow("dnd", "DoNotDisturb", "Presenting"));
        }, "a loop");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("teamsToUc[2]", refused.Errors);
        Assert.Contains("ucToTeams[1]", refused.Errors);
        Assert.Contains("loop", refused.Errors);
        Assert.Equal(before["version"]!.GetValue<int>(), (await CurrentTableAsync())["version"]!.GetValue<int>());

        // A field the table does not have is named too, and a stale version is refused with the one in force.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_loop.Ports.Admin}") };
        http.DefaultRequestHeaders.Add("X-Presence-Csrf", "ctl");
        var typo = await http.PostAsJsonAsync("/admin/mapping", new { mapping = new { teamToUc = Array.Empty<object>() }, basedOn = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("teamToUc", await typo.Content.ReadAsStringAsync());
        var stale = await http.PostAsJsonAsync("/admin/mapping", new { mapping = before, basedOn = before["version"]!.GetValue<int>() + 7 });
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Contains($"version {before["version"]!.GetValue<int>()} is in force", await stale.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Opting_out_mid_call_completes_the_restore_then_nothing_is_written_until_opted_in()
    {
        Assert.Equal(0, (await SetTableAsync(Seed, "the seed's table")).Exit);
        var users = await _loop.AddUsersAsync(2, ucStatus: "Lunch", prefix: "dave");
        var (teamsCaller, teamsCallerUser) = users[0];
        var (phoneCaller, phoneCallerUser) = users[1];

        _loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Busy", what: "UC busy during the Teams call");
        await _loop.Uc.SetPhoneAsync(phoneCaller, true);
        await Eventually.TrueAsync(() => OurSessionOn(phoneCallerUser), what: "our session during the UC call");

        // Out through the internal API (the UC back end's), and through ctl.
        var api = await _loop.Uc.SetSynchronisedAsync(teamsCaller, false);
        Assert.Equal(HttpStatusCode.OK, api);
        var (exit, output, errors) = await Ctl("presence", "opt-out", phoneCaller);
        Assert.True(exit == 0, errors);
        Assert.Contains("left out", output);

        // What was in progress is wound down: UC back to its prior status, our Teams session cleared; and neither is watched.
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Lunch", what: "UC restored on opt-out");
        await Eventually.TrueAsync(() => !OurSessionOn(phoneCallerUser), what: "our session cleared on opt-out");
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.SubscriptionsWatching(teamsCallerUser.Id).Count == 0
                                         && _loop.Graph.Tenant.SubscriptionsWatching(phoneCallerUser.Id).Count == 0, what: "both removed from their subscription");

        // Then nothing: a new UC call is taken in (the actor has it) but sets no Teams session, and a Teams call writes nothing.
        var phoneCallerBefore = await _loop.StateOfAsync(phoneCallerUser.Id);
        var teamsCallerBefore = await _loop.StateOfAsync(teamsCallerUser.Id);
        await _loop.Uc.SetPhoneAsync(phoneCaller, false);
        await _loop.Uc.SetPhoneAsync(phoneCaller, true);
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(phoneCallerUser.Id)).UcOnPhone, what: "the UC call taken in");
        // A late notification of a new Teams call (sent before the subscription let go) is taken in and writes nothing.
        foreach (var client in new[] { TeamsClientState.Available, TeamsClientState.InACall })
        {
            _loop.Graph.Tenant.SetClient(teamsCallerUser.Id, client);
            var now = _loop.Graph.Tenant.GetPresence(teamsCallerUser.Id);
            _loop.Users.Tell(new PresenceActors.Users.UserPresenceCommands.ObserveTeamsPresence(teamsCallerUser.Id, now.Availability, now.Activity,
                now.SequenceNumber, PresenceActors.Users.TeamsPresenceSource.Notification));
        }

        var last = _loop.Graph.Tenant.GetPresence(teamsCallerUser.Id).SequenceNumber;
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(teamsCallerUser.Id)).Teams?.SequenceNumber == last, what: "the notification taken in");
        var (_, shown, _) = await Ctl("presence", "user", teamsCaller);
        Assert.Matches(@"synchronised\s+\| false", shown);
        // Decided by the actors, whose effects follow their state: no session asked for, no UC update decided.
        var phoneCallerAfter = await _loop.StateOfAsync(phoneCallerUser.Id);
        Assert.True(phoneCallerAfter.Session is { InFlight: null, ExpiresAt: null });
        Assert.Equal(phoneCallerBefore.Session.LastOperation, phoneCallerAfter.Session.LastOperation);
        Assert.Equal(teamsCallerBefore.Outbox.LastSequence, (await _loop.StateOfAsync(teamsCallerUser.Id)).Outbox.LastSequence);
        Assert.Equal(["Busy", "Lunch"], _loop.Uc.Updates.Where(u => u.UcUserId == teamsCaller).Select(u => u.Status));

        // In again: watched, and the Teams call in progress crosses at once.
        Assert.Equal(0, (await Ctl("presence", "opt-in", teamsCaller)).Exit);
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.SubscriptionsWatching(teamsCallerUser.Id).Count == 1, what: "watched again");
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Busy", what: "the Teams call crosses again");
        _loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Lunch", what: "restored");

        // Out during a Teams call that ends while they are out: taken back, nothing stale crosses (the state the
        // service saw before it let go is not used; the bulk read after the subscription is made again decides).
        _loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Busy", what: "UC busy during the next Teams call");
        Assert.Equal(HttpStatusCode.OK, await _loop.Uc.SetSynchronisedAsync(teamsCaller, false));
        await Eventually.TrueAsync(() => _loop.Uc.User(teamsCaller)!.Status == "Lunch", what: "restored on opt-out");
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.SubscriptionsWatching(teamsCallerUser.Id).Count == 0, what: "unwatched");
        _loop.Graph.Tenant.SetClient(teamsCallerUser.Id, TeamsClientState.Available);
        var decided = (await _loop.StateOfAsync(teamsCallerUser.Id)).Outbox.LastSequence;
        var metrics = _loop.Service.Services.GetRequiredService<PresenceActors.PresenceMetrics>();
        var readBefore = metrics.BulkReadsForwarded + metrics.BulkReadsLeftIdle;
        Assert.Equal(HttpStatusCode.OK, await _loop.Uc.SetSynchronisedAsync(teamsCaller, true));
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.SubscriptionsWatching(teamsCallerUser.Id).Count == 1, what: "watched again");
        // The read after the subscription is made again has been handed on (an idle user's Available is left alone:
        // docs/scale.md, "Lazy user actors"; either way the state the service saw before it let go decides nothing).
        await Eventually.TrueAsync(() => metrics.BulkReadsForwarded + metrics.BulkReadsLeftIdle > readBefore, what: "the bulk read handed on");
        var state = await _loop.StateOfAsync(teamsCallerUser.Id);
        Assert.False(state.TeamsCallActive);
        Assert.Equal(decided, state.Outbox.LastSequence); // no UC update decided on the way back in
        Assert.Equal("Lunch", _loop.Uc.User(teamsCaller)!.Status);
    }
}
