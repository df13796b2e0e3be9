using PresenceActors.Simulators.Graph;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Akka.Actor;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>Every row of the seed's table, in both directions, through the whole loop.</summary>
public class SeedTableEndToEndTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    /// <summary>Puts the Teams user into the row's prior state: their own status, a calendar meeting, or plain available.</summary>
    private void SetPrior(SimUser user, string availability, string activity)
    {
        switch ((availability, activity))
        {
            case ("Available", "Available"):
                break;
            case ("Busy", "InAMeeting"):
                _loop.Graph.Tenant.SetMeeting(user.Id, true);
                break;
            default:
                _loop.Graph.Tenant.SetPreferredPresence(user.Id, availability, activity, null);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(Users.PresenceRulesTests.SeedTable), MemberType = typeof(Users.PresenceRulesTests))]
    public async Task Teams_call_gives_uc_busy_then_the_prior_status(string priorAvailability, string priorActivity, string duringAvailability, string duringActivity)
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, ucStatus: "Away (custom)"))[0];
        SetPrior(teams, priorAvailability, priorActivity);

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        Assert.Equal((duringAvailability, duringActivity), (_loop.Graph.Tenant.GetPresence(teams.Id).Availability, _loop.Graph.Tenant.GetPresence(teams.Id).Activity));
        var shownAsCall = duringActivity == "InACall";
        if (shownAsCall)
            await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "UC Busy during the Teams call");
        else
            await _loop.CaughtUpAsync(teams); // the user's own status outranks the call: nothing to mirror

        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await _loop.CaughtUpAsync(teams);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Away (custom)", what: "UC back to its prior status",
            state: () => $"UC shows {_loop.Uc.User(ucUserId)!.Status}; transitions: " + string.Join(" | ", _loop.StateOfAsync(teams.Id).Result.History.Select(h => $"{h.Rule}: {h.Detail}")));

        var updates = _loop.Uc.Updates.Where(u => u.UcUserId == ucUserId).Select(u => u.Status).ToList();
        Assert.Equal(shownAsCall ? ["Busy", "Away (custom)"] : [], updates);
        Assert.DoesNotContain(_loop.Graph.Faults.Calls, c => c.Api is "presence.set" or "presence.clear" && c.Path.Contains(teams.Id)); // never a Graph write
    }

    [Theory]
    [MemberData(nameof(Users.PresenceRulesTests.SeedTable), MemberType = typeof(Users.PresenceRulesTests))]
    public async Task Uc_call_gives_the_tables_teams_presence_then_the_original(string priorAvailability, string priorActivity, string duringAvailability, string duringActivity)
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1))[0];
        SetPrior(teams, priorAvailability, priorActivity);
        await _loop.CaughtUpAsync(teams);

        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId), what: "our session on Graph");
        var during = _loop.Graph.Tenant.GetPresence(teams.Id);
        Assert.Equal((duringAvailability, duringActivity), (during.Availability, during.Activity));
        await _loop.CaughtUpAsync(teams); // our own echo has reached the service by now

        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !_loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId)
                                         && _loop.GraphAnswered("presence.clear", teams.Id), what: "our session cleared");
        var after = _loop.Graph.Tenant.GetPresence(teams.Id);
        Assert.Equal((priorAvailability, priorActivity), (after.Availability, after.Activity));
        await _loop.CaughtUpAsync(teams);

        // E1: the UC call's own echo in Teams never came back to UC as an update.
        Assert.DoesNotContain(_loop.Uc.Updates, u => u.UcUserId == ucUserId);
        Assert.Equal("Available", _loop.Uc.User(ucUserId)!.Status);
        var writes = _loop.Graph.Faults.Calls.Where(c => c.Api is "presence.set" or "presence.clear" && c.Path.Contains(teams.Id)).Select(c => c.Api).ToList();
        Assert.Equal(["presence.set", "presence.clear"], writes);
    }
}
