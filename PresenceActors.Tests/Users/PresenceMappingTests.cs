using PresenceActors.Presence;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.Users;

/// <summary>The editable mapping (docs/mapping.md): the seed's table by default, busy-on-busy, custom rows, validation.</summary>
public class PresenceMappingTests
{
    private static readonly PresenceMapping Custom = PresenceMapping.Seed with
    {
        Version = 1,
        TeamsToUc =
        [
            .. PresenceMapping.Seed.TeamsToUc,
            new TeamsToUcRow("Presenting", null, "Busy"),
            new TeamsToUcRow("DoNotDisturb", "DoNotDisturb", "DND"),
        ],
        UcToTeams = [.. PresenceMapping.Seed.UcToTeams, new UcToTeamsRow("Do not disturb", "DoNotDisturb", "Presenting")],
    };

    [Fact]
    public void The_default_mapping_is_exactly_the_seeds_table()
    {
        var seed = PresenceSettings.Default.Mapping;
        Assert.Equal(0, seed.Version);
        Assert.Equal([new TeamsToUcRow("InACall", null, "Busy"), new TeamsToUcRow("InAConferenceCall", null, "Busy")], seed.TeamsToUc.ToArray());
        Assert.Equal([new UcToTeamsRow("phone", "Busy", "InACall")], seed.UcToTeams.ToArray());
        Assert.False(seed.BusyOnBusy);
        Assert.Empty(seed.Problems());
        // What does not cross: the calendar, the person's own states.
        foreach (var (availability, activity) in new[] { ("Busy", "InAMeeting"), ("DoNotDisturb", "DoNotDisturb"), ("DoNotDisturb", "Presenting"), ("Away", "Away"), ("BeRightBack", "BeRightBack"), ("Offline", "OffWork") })
            Assert.Null(seed.UcStatusFor(TeamsPresence.Parse(availability, activity)));
        Assert.Equal(UcStatus.Busy, seed.UcStatusFor(TeamsPresence.Parse("Busy", "InAConferenceCall")));
        Assert.Null(seed.TeamsShownFor("u", onPhone: false, UcStatus.Of("Do not disturb")));
    }

    [Fact]
    public void Busy_on_busy_shows_DoNotDisturb_Presenting_during_a_UC_call_and_clears_it_the_same_way()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { Mapping = PresenceMapping.Seed with { BusyOnBusy = true } });
        s.Uc("Available");
        var set = Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        Assert.Equal(new TeamsShown("DoNotDisturb", "Presenting"), set.Shown);
        s.Succeed([set]);
        Assert.Contains("DoNotDisturb/Presenting", s.State.History[^1].Detail);

        // Teams shows our session back: the echo changes nothing on UC (E1).
        Assert.Empty(s.Teams("DoNotDisturb", "Presenting"));
        var refresh = Assert.Single(s.FireTimer().OfType<SetTeamsSession>());
        Assert.Equal(TeamsShown.DoNotDisturb, refresh.Shown);
        s.Succeed([refresh]);

        Assert.Single(s.Uc("Available", onPhone: false).OfType<ClearTeamsSession>());
        Assert.Empty(s.UcUpdates);
    }

    [Fact]
    public void Busy_on_busy_per_user_turns_it_on_for_listed_users_and_off_for_excepted_ones()
    {
        var on = PresenceMapping.Seed with { BusyOnBusyOn = ["teams-vip"] };
        Assert.Equal(TeamsShown.DoNotDisturb, on.TeamsShownFor("TEAMS-VIP", onPhone: true, null));
        Assert.Equal(TeamsShown.InACall, on.TeamsShownFor("teams-other", onPhone: true, null));

        var everyoneBut = PresenceMapping.Seed with { BusyOnBusy = true, BusyOnBusyOff = ["teams-reception"] };
        Assert.Equal(TeamsShown.InACall, everyoneBut.TeamsShownFor("teams-reception", onPhone: true, null));
        Assert.Equal(TeamsShown.DoNotDisturb, everyoneBut.TeamsShownFor("teams-other", onPhone: true, null));

        var s = new PresenceScenario(PresenceSettings.Default with { Mapping = on }, teamsUserId: "teams-vip");
        Assert.Equal(TeamsShown.DoNotDisturb, Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>()).Shown);
    }

    [Fact]
    public void Presenting_sets_UC_busy_and_DoNotDisturb_sets_UC_DND_each_restoring_the_prior_status()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { Mapping = Custom });
        s.Uc("Lunch");
        s.Teams("Available", "Available", TeamsPresenceSource.Read);

        s.Succeed(s.Teams("DoNotDisturb", "Presenting"));
        s.Uc("Busy"); // E2 echo
        s.Succeed(s.Teams("DoNotDisturb", "DoNotDisturb")); // from one crossing state to another: UC follows, the prior stays
        s.Uc("DND"); // E2 echo
        s.Succeed(s.Teams("Available", "Available"));

        Assert.Equal(["Busy", "DND", "Lunch"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.False(s.State.TeamsCallActive);
        Assert.Null(s.State.UcPrior);
    }

    [Fact]
    public void A_persons_UC_change_during_a_custom_crossing_wins_over_the_restore()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { Mapping = Custom });
        s.Uc("Available");
        s.Succeed(s.Teams("DoNotDisturb", "Presenting"));
        s.Uc("Busy"); // E2 echo
        s.Uc("Out for lunch"); // the person, during the presentation
        s.Succeed(s.Teams("DoNotDisturb", "DoNotDisturb")); // another crossing state: their choice still stands
        s.Succeed(s.Teams("Available", "Available"));

        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.Equal("Out for lunch", s.State.UcCurrent!.Value);
    }

    [Fact]
    public void A_UC_status_row_holds_our_Teams_session_while_the_status_lasts()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { Mapping = Custom });
        s.Uc("Available");
        var set = Assert.Single(s.Uc("do not disturb").OfType<SetTeamsSession>()); // UC spellings compare without case
        Assert.Equal(TeamsShown.DoNotDisturb, set.Shown);
        s.Succeed([set]);
        // Our own session shown back by Teams is an echo: no UC write, although DoNotDisturb/Presenting is a crossing row.
        Assert.Empty(s.Teams("DoNotDisturb", "Presenting"));

        // A phone call meanwhile: the phone row comes first and our session shows the call.
        var call = Assert.Single(s.Uc("do not disturb", onPhone: true).OfType<SetTeamsSession>());
        Assert.Equal(TeamsShown.InACall, call.Shown);
        s.Succeed([call]);
        var back = Assert.Single(s.Uc("do not disturb", onPhone: false).OfType<SetTeamsSession>());
        Assert.Equal(TeamsShown.DoNotDisturb, back.Shown);
        s.Succeed([back]);

        Assert.Single(s.Uc("Available").OfType<ClearTeamsSession>());
        Assert.Empty(s.UcUpdates);
    }

    [Fact]
    public void A_mapping_that_could_loop_is_refused_naming_the_rows()
    {
        var looping = PresenceMapping.Seed with
        {
            TeamsToUc = [.. PresenceMapping.Seed.TeamsToUc, new TeamsToUcRow("DoNotDisturb", null, "DND")],
            UcToTeams = [.. PresenceMapping.Seed.UcToTeams, new UcToTeamsRow("dnd", "DoNotDisturb", "Presenting")],
        };
        var problem = Assert.Single(looping.Problems());
        Assert.Contains("teamsToUc[2]", problem);
        Assert.Contains("ucToTeams[1]", problem);
        Assert.Contains("loop", problem);
    }

    [Fact]
    public void Other_bad_rows_are_refused_naming_the_row_and_field()
    {
        var bad = new PresenceMapping
        {
            TeamsToUc = [new TeamsToUcRow("Presenting", null, "Busy"), new TeamsToUcRow("Presenting", "DoNotDisturb", "DND"), new TeamsToUcRow("OnThePhone", null, "Busy"), new TeamsToUcRow("InACall", null, " ")],
            UcToTeams = [new UcToTeamsRow("phone", "DoNotDisturb", "DoNotDisturb"), new UcToTeamsRow("PHONE", "Busy", "InACall")],
            BusyOnBusyOn = [""],
        };
        var problems = bad.Problems();
        Assert.Contains(problems, p => p.StartsWith("teamsToUc[1]") && p.Contains("never applies") && p.Contains("teamsToUc[0]"));
        Assert.Contains(problems, p => p.StartsWith("teamsToUc[2]") && p.Contains("OnThePhone"));
        Assert.Contains(problems, p => p.StartsWith("teamsToUc[3]") && p.Contains("ucStatus"));
        Assert.Contains(problems, p => p.StartsWith("ucToTeams[0]") && p.Contains("setPresence accepts only"));
        Assert.Contains(problems, p => p.StartsWith("ucToTeams[1]") && p.Contains("same trigger as ucToTeams[0]"));
        Assert.Contains(problems, p => p.StartsWith("busyOnBusyOn"));
        Assert.Contains("busyOnBusy", Assert.Single((PresenceMapping.Seed with { UcToTeams = [], BusyOnBusy = true }).Problems()));
    }

    [Fact]
    public void A_changed_mapping_judges_the_current_state_again_starting_and_ending_crossings()
    {
        var seed = new PresenceScenario();
        seed.Uc("Available");
        Assert.Empty(seed.Teams("DoNotDisturb", "Presenting"));

        // The same user and inputs, then the custom table reaches them: the crossing starts at once.
        var changed = seed.State.Handle(new PresenceRulesChanged(Custom) { At = seed.Now }, PresenceSettings.Default);
        Assert.Equal("Busy", Assert.Single(changed.Effects.OfType<SendUcUpdate>()).Update.Status.Value);
        Assert.True(changed.Persist);
        Assert.Contains(changed.State.History, h => h.Rule == "mapping" && h.Detail.Contains("version 1"));
        Assert.Equal(1, changed.State.Mapping!.Version);

        // The state is judged by its own table from then on, whatever the settings say.
        var presenting = changed.State.Handle(new TeamsPresenceObserved("DoNotDisturb", "Presenting", "9", TeamsPresenceSource.Read) { At = seed.Now }, PresenceSettings.Default);
        Assert.True(presenting.State.TeamsCallActive);

        // And back to the seed's table: the crossing ends and the prior status comes back.
        var back = changed.State.Handle(new PresenceRulesChanged(PresenceMapping.Seed with { Version = 2 }) { At = seed.Now }, PresenceSettings.Default);
        Assert.Equal("Available", Assert.Single(back.Effects.OfType<SendUcUpdate>()).Update.Status.Value);
        Assert.False(back.State.TeamsCallActive);

        // The same table again changes nothing and is not journaled.
        var again = back.State.Handle(new PresenceRulesChanged(PresenceMapping.Seed with { Version = 2 }) { At = seed.Now }, PresenceSettings.Default);
        Assert.DoesNotContain(again.Effects, e => e is SendUcUpdate or SetTeamsSession or ClearTeamsSession);
        Assert.False(again.Persist);
    }

    [Fact]
    public void A_user_keeps_only_their_own_busy_on_busy_from_the_table()
    {
        var table = PresenceMapping.Seed with { Version = 4, BusyOnBusyOn = ["teams-vip", "teams-other"] };
        var mine = table.ForUser("teams-vip");
        Assert.True(mine.BusyOnBusy);
        Assert.Empty(mine.BusyOnBusyOn);
        Assert.Equal(4, mine.Version);
        Assert.False(table.ForUser("teams-3").BusyOnBusy);
    }

    [Fact]
    public void Empty_rows_and_too_long_lists_are_refused_naming_them_and_names_are_trimmed()
    {
        var empty = PresenceMapping.Seed with { TeamsToUc = [null!], UcToTeams = [null!] };
        Assert.Equal(["teamsToUc[0] is empty: a row needs activity and ucStatus.", "ucToTeams[0] is empty: a row needs trigger, availability and activity."], empty.Problems());
        var long_ = PresenceMapping.Seed with { BusyOnBusyOn = [.. Enumerable.Range(0, PresenceMapping.MaxListedUsers + 1).Select(i => $"t-{i}")] };
        Assert.Contains(long_.Problems(), p => p.StartsWith("busyOnBusyOn: 2001 users"));
        var spaced = PresenceMapping.Seed with { TeamsToUc = [new TeamsToUcRow(" Presenting ", null, " Busy ")] };
        Assert.Equal(new TeamsToUcRow("Presenting", null, "Busy"), spaced.Trimmed().TeamsToUc[0]);
    }
}
