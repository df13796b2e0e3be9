using PresenceActors.Presence;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.Users;

public class PresenceRulesTests
{
    /// <summary>The seed's "Tabelle 11": Teams presence before a call, and what Teams shows while a Busy/InACall session holds.</summary>
    public static TheoryData<string, string, string, string> SeedTable => new()
    {
        { "Available", "Available", "Busy", "InACall" },
        { "Busy", "Busy", "Busy", "InACall" },
        { "DoNotDisturb", "DoNotDisturb", "DoNotDisturb", "DoNotDisturb" },
        { "BeRightBack", "BeRightBack", "BeRightBack", "BeRightBack" },
        { "Away", "Away", "Away", "Away" },
        { "Offline", "OffWork", "Offline", "OffWork" },
        { "Busy", "InAMeeting", "Busy", "InACall" },
    };

    [Theory]
    [MemberData(nameof(SeedTable))]
    public void Seed_table_row_teams_call_sets_uc_busy_and_restores_prior(
        string priorAvailability, string priorActivity, string duringAvailability, string duringActivity)
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams(priorAvailability, priorActivity, TeamsPresenceSource.Read);

        s.Succeed(s.Teams(duringAvailability, duringActivity));
        s.Succeed(s.Teams(priorAvailability, priorActivity));

        var isCall = duringActivity == "InACall";
        var expected = isCall ? new[] { "Busy", "Available" } : [];
        Assert.Equal(expected, s.UcUpdates.Select(u => u.Status.Value));
        if (isCall)
            Assert.Equal([UcUpdate.TeamsCallStarted, UcUpdate.TeamsCallEnded], s.UcUpdates.Select(u => u.Reason));
        Assert.False(s.State.TeamsCallActive);
    }

    [Fact]
    public void A_user_linked_while_already_in_a_Teams_call_goes_busy_on_UC_at_once_and_is_restored_after()
    {
        // The actor learned the Teams call before its link arrived (the link was sent again after the registry moved).
        var s = new PresenceScenario();
        s.Apply(new UserUnlinked { At = s.Now });
        s.Uc("Lunch");
        s.Teams("Busy", "InACall");
        Assert.Empty(s.UcUpdates);

        s.Succeed(s.Apply(new UserLinked("uc-1") { At = s.Now }));
        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.True(s.State.TeamsCallActive);
        Assert.Equal("T1", s.State.History[^1].Rule);

        s.Succeed(s.Teams("Available", "Available"));
        Assert.Equal(["Busy", "Lunch"], s.UcUpdates.Select(u => u.Status.Value));

        // Linked again to the same UC user (a re-registration): nothing new happens.
        var again = s.Apply(new UserLinked("uc-1") { At = s.Now });
        Assert.Empty(again);
        Assert.False(s.LastPersisted);
    }

    [Theory]
    [MemberData(nameof(SeedTable))]
    public void Seed_table_row_uc_call_holds_our_session_and_clears_it_without_uc_updates(
        string priorAvailability, string priorActivity, string duringAvailability, string duringActivity)
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams(priorAvailability, priorActivity, TeamsPresenceSource.Read);

        var start = s.Uc("Available", onPhone: true);
        var set = Assert.Single(start.OfType<SetTeamsSession>());
        Assert.Equal(TimeSpan.FromMinutes(5), set.Expiration);
        s.Succeed(start);
        s.Succeed(s.Teams(duringAvailability, duringActivity)); // what Teams shows while our session holds

        var end = s.Uc("Available", onPhone: false);
        Assert.Single(end.OfType<ClearTeamsSession>());
        var afterClear = s.Succeed(end);
        Assert.Single(afterClear.OfType<ReadTeamsPresence>());
        s.Succeed(s.Teams(priorAvailability, priorActivity, TeamsPresenceSource.Read));

        Assert.Empty(s.UcUpdates);
        Assert.Null(s.State.Session.ExpiresAt);
        Assert.False(s.State.TeamsCallActive);
    }

    [Theory]
    [InlineData("Available", "Available")]
    [InlineData("Busy", "Busy")]
    [InlineData("Busy", "InAMeeting")]
    [InlineData("DoNotDisturb", "DoNotDisturb")]
    [InlineData("DoNotDisturb", "Presenting")]
    [InlineData("Away", "Away")]
    [InlineData("BeRightBack", "BeRightBack")]
    [InlineData("Offline", "OffWork")]
    [InlineData("Available", "OutOfOffice")]
    [InlineData("AvailableIdle", "Inactive")]
    public void T3_presence_that_is_not_a_call_never_changes_uc(string availability, string activity)
    {
        var s = new PresenceScenario();
        s.Uc("Away");
        s.Teams("Available", "Available");
        var effects = s.Teams(availability, activity);
        Assert.DoesNotContain(effects, e => e is SendUcUpdate or SetTeamsSession or ClearTeamsSession);
        Assert.False(s.State.TeamsCallActive);
    }

    [Fact]
    public void InAConferenceCall_is_a_call_and_the_call_activity_set_is_configurable()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Teams("Busy", "InAConferenceCall"));
        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));

        var presenting = new PresenceScenario(PresenceSettings.Default with
        {
            Mapping = PresenceMapping.SeedWith([TeamsActivity.InACall, TeamsActivity.Presenting]),
        });
        presenting.Uc("Available");
        presenting.Succeed(presenting.Teams("DoNotDisturb", "presenting")); // case-insensitive
        Assert.Equal(["Busy"], presenting.UcUpdates.Select(u => u.Status.Value));
    }

    [Fact]
    public void Teams_call_end_restores_prior_uc_status()
    {
        var s = new PresenceScenario();
        s.Uc("Away");
        s.Succeed(s.Teams("Busy", "InACall"));
        s.Uc("Busy"); // E2 echo of our update
        s.Succeed(s.Teams("Away", "Away"));

        Assert.Equal(["Busy", "Away"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.Equal(["uc-1", "uc-1"], s.UcUpdates.Select(u => u.UcUserId));
        Assert.All(s.UcUpdates, u => Assert.Equal("teams-1", u.TeamsUserId));
    }

    [Fact]
    public void Manual_uc_change_during_teams_call_is_not_overwritten_at_its_end()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Teams("Busy", "InACall"));
        s.Uc("Busy"); // our echo
        s.Advance(TimeSpan.FromMinutes(1));
        s.Uc("DoNotDisturb"); // the person, during the call
        s.Succeed(s.Teams("Available", "Available"));

        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.Equal("DoNotDisturb", s.State.UcCurrent?.Value);
        Assert.Contains(s.State.History, h => h.Rule == "T2" && h.Detail.Contains("stands"));
    }

    [Fact]
    public void Unknown_uc_status_is_restored_verbatim()
    {
        var s = new PresenceScenario();
        s.Uc("Lunch – back at 2 (custom)");
        s.Succeed(s.Teams("Busy", "InACall"));
        s.Succeed(s.Teams("Available", "Available"));

        Assert.Equal(["Busy", "Lunch – back at 2 (custom)"], s.UcUpdates.Select(u => u.Status.Value));
    }

    [Fact]
    public void Prior_status_that_was_never_reported_falls_back_to_the_configured_status()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { FallbackUcStatus = UcStatus.Of("Online") });
        s.Succeed(s.Teams("Busy", "InACall"));
        s.Succeed(s.Teams("Available", "Available"));
        Assert.Equal(["Busy", "Online"], s.UcUpdates.Select(u => u.Status.Value));
    }

    [Fact]
    public void Uc_report_from_just_before_the_teams_call_corrects_the_prior()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Advance(TimeSpan.FromSeconds(5));
        var changedAt = s.Now;
        s.Advance(TimeSpan.FromSeconds(1));
        s.Teams("Busy", "InACall"); // T1 issued before the report of the earlier change arrives
        s.Uc("Away", reportedAt: changedAt);
        s.Succeed(s.AllEffects.OfType<SendUcUpdate>().ToList());
        s.Succeed(s.Teams("Available", "Available"));

        Assert.Equal(["Busy", "Away"], s.UcUpdates.Select(u => u.Status.Value));
    }

    [Fact]
    public void Duplicated_and_out_of_order_teams_notifications_are_ignored()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        var seqCall = s.NextTeamsSequence();
        var seqEnd = s.NextTeamsSequence();

        s.Succeed(s.Teams("Busy", "InACall", sequence: seqCall));
        Assert.False(s.LastPersisted is false && s.State.TeamsCallActive is false);
        var duplicate = s.Teams("Busy", "InACall", sequence: seqCall);
        Assert.Empty(duplicate);
        Assert.False(s.LastPersisted);

        s.Succeed(s.Teams("Available", "Available", sequence: seqEnd));
        var stale = s.Teams("Busy", "InACall", sequence: seqCall); // arrives late
        Assert.Empty(stale);
        Assert.False(s.LastPersisted);

        Assert.Equal(["Busy", "Available"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.False(s.State.TeamsCallActive);
    }

    [Fact]
    public void Notification_that_changes_nothing_needs_no_journal_write()
    {
        var s = new PresenceScenario();
        s.Teams("Available", "Available", sequence: null);
        Assert.True(s.LastPersisted);
        s.Teams("Available", "available", sequence: null);
        Assert.False(s.LastPersisted);
    }

    [Fact]
    public void Uc_call_then_teams_call_overlapping_restores_after_both_end()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams("Available", "Available");
        s.Succeed(s.Uc("Available", onPhone: true)); // U1
        s.Succeed(s.Teams("Busy", "InACall")); // E1: our echo; a Teams call starting now looks the same
        Assert.Empty(s.UcUpdates);

        // The UC call ends while the Teams call goes on: after our clear, the read still shows a call: a real one.
        var afterClear = s.Succeed(s.Uc("Available", onPhone: false));
        Assert.Contains(afterClear, e => e is ReadTeamsPresence);
        s.Succeed(s.Teams("Busy", "InACall", TeamsPresenceSource.Read));
        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));

        s.Uc("Busy"); // echo
        s.Succeed(s.Teams("Available", "Available"));
        Assert.Equal(["Busy", "Available"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.Null(s.State.Session.ExpiresAt);
    }

    [Fact]
    public void Teams_call_then_uc_call_overlapping_defers_the_restore_to_the_uc_call_end()
    {
        var s = new PresenceScenario();
        s.Uc("Away");
        s.Succeed(s.Teams("Busy", "InACall")); // T1
        s.Uc("Busy");
        s.Succeed(s.Uc("Busy", onPhone: true)); // U1 while the Teams call goes on
        Assert.Single(s.AllEffects.OfType<SetTeamsSession>());

        s.Succeed(s.Teams("Available", "Available")); // Teams call over; UC busy on its own, nothing sent
        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.True(s.State.RestorePending);

        s.Succeed(s.Uc("Busy", onPhone: false)); // U2: now the prior comes back
        Assert.Equal(["Busy", "Away"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.Single(s.AllEffects.OfType<ClearTeamsSession>());
    }

    [Fact]
    public void Teams_call_ending_behind_our_session_is_found_after_the_clear()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Teams("Busy", "InACall")); // T1
        s.Uc("Busy");
        s.Succeed(s.Uc("Busy", onPhone: true)); // U1: our session now masks the Teams call's end
        s.Succeed(s.Uc("Busy", onPhone: false)); // U2 → clear → read
        s.Succeed(s.Teams("Available", "Available", TeamsPresenceSource.Read));

        Assert.Equal(["Busy", "Available"], s.UcUpdates.Select(u => u.Status.Value));
        Assert.False(s.State.HoldsWork);
    }

    [Fact]
    public void Uc_call_never_reported_ended_is_ended_after_the_maximum_length_and_its_repeats_start_nothing()
    {
        var s = new PresenceScenario(PresenceSettings.Default with { MaxUcCallLength = TimeSpan.FromHours(1) });
        s.Uc("Available");
        var start = s.Now;
        var reportedAt = s.Now;
        s.Succeed(s.Uc("Available", onPhone: true, reportedAt: reportedAt));

        // Kept alive every 4 minutes for the hour, then the timer due at the limit ends it: our session cleared.
        IReadOnlyList<PresenceEffect> effects;
        do
        {
            effects = s.FireTimer();
            s.Succeed(effects);
        }
        while (effects.OfType<ClearTeamsSession>().Count() == 0 && s.Now < start + TimeSpan.FromHours(2));

        Assert.Equal(start + TimeSpan.FromHours(1), s.Now);
        Assert.False(s.State.UcOnPhone);
        Assert.Null(s.State.Session.ExpiresAt);
        Assert.Contains(s.State.History, h => h.Rule == "U2" && h.Detail.Contains("not reported ended"));
        Assert.False(s.State.HoldsWork);

        // The same report again (a redelivery of the call's start) starts no call; a later one does.
        Assert.Empty(s.Uc("Available", onPhone: true, reportedAt: reportedAt).OfType<SetTeamsSession>());
        Assert.False(s.State.UcOnPhone);
        s.Advance(TimeSpan.FromMinutes(1));
        Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        Assert.True(s.State.UcOnPhone);
        Assert.Empty(s.UcUpdates);
    }

    [Fact]
    public void Two_hour_uc_call_resends_set_presence_before_every_expiry()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        var start = s.Now;
        s.Succeed(s.Uc("Available", onPhone: true));
        var expiries = new List<(DateTimeOffset SentAt, DateTimeOffset ExpiresAt)> { (s.Now, s.State.Session.ExpiresAt!.Value) };
        while (s.Now < start + TimeSpan.FromHours(2))
        {
            var effects = s.FireTimer();
            var set = Assert.Single(effects.OfType<SetTeamsSession>());
            Assert.True(s.Now < expiries[^1].ExpiresAt, $"keep-alive at {s.Now:HH:mm:ss} came after the session expired at {expiries[^1].ExpiresAt:HH:mm:ss}");
            s.Succeed(effects);
            expiries.Add((s.Now, s.State.Session.ExpiresAt!.Value));
            Assert.Equal(TimeSpan.FromMinutes(5), set.Expiration);
        }

        Assert.InRange(expiries.Count, 30, 32); // one every 4 minutes
        s.Succeed(s.Uc("Available", onPhone: false));
        Assert.Single(s.AllEffects.OfType<ClearTeamsSession>());
        Assert.Null(s.State.TimerDueAt);
        Assert.Empty(s.UcUpdates);
    }

    [Fact]
    public void Our_own_echoes_never_cause_an_update()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams("Available", "Available");
        s.Succeed(s.Uc("Available", onPhone: true));
        var e1 = s.Teams("Busy", "InACall"); // E1
        Assert.Empty(e1);

        var t = new PresenceScenario();
        t.Uc("Available");
        var t1 = t.Teams("Busy", "InACall");
        t.Succeed(t1);
        var e2 = t.Uc("Busy"); // E2
        Assert.Empty(e2);
        Assert.False(t.State.UcChangedDuringCall);
        Assert.Empty(t.State.Outbox.Unechoed);
    }

    [Fact]
    public void Late_echo_after_clear_is_confirmed_by_a_read_not_taken_as_a_call()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams("Available", "Available", sequence: null);
        s.Succeed(s.Uc("Available", onPhone: true));
        s.Succeed(s.Uc("Available", onPhone: false));
        s.Teams("Available", "Available", TeamsPresenceSource.Read, sequence: null);

        s.Advance(TimeSpan.FromSeconds(20));
        var late = s.Teams("Busy", "InACall", sequence: null); // delayed notification from while our session held
        Assert.Equal([new ReadTeamsPresence()], late);
        s.Teams("Available", "Available", TeamsPresenceSource.Read, sequence: null);
        Assert.Empty(s.UcUpdates);
    }

    [Fact]
    public void Bulk_read_taken_while_our_session_held_and_arriving_after_the_clear_is_checked_by_a_fresh_read()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams("Available", "Available", sequence: null);
        s.Succeed(s.Uc("Available", onPhone: true));
        s.Succeed(s.Uc("Available", onPhone: false));

        // The pool's bulk read (a new subscription's members) saw our session; it arrives after our clearPresence.
        s.Advance(TimeSpan.FromSeconds(2));
        var stale = s.Teams("Busy", "InACall", TeamsPresenceSource.BulkRead, sequence: null);
        Assert.Equal([new ReadTeamsPresence()], stale);
        Assert.False(s.State.TeamsCallActive);
        s.Teams("Available", "Available", TeamsPresenceSource.Read, sequence: null);
        Assert.Empty(s.UcUpdates);

        // Long after any clear, a bulk read showing a call is a call (what a missed notification would have said).
        s.Advance(TimeSpan.FromMinutes(5));
        s.Teams("Busy", "InACall", TeamsPresenceSource.BulkRead, sequence: null);
        Assert.True(s.State.TeamsCallActive);
        Assert.Equal(["Busy"], s.UcUpdates.Select(u => u.Status.Value));
    }

    [Fact]
    public void Failed_clear_is_retried_with_backoff_until_it_succeeds()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Uc("Available", onPhone: true));
        var clear = Assert.Single(s.Uc("Available", onPhone: false).OfType<ClearTeamsSession>());
        s.Apply(new TeamsSessionClearFailed(clear.Operation, "503") { At = s.Now });
        var firstRetryAt = s.State.TimerDueAt!.Value;
        Assert.Equal(s.Now + s.Settings.RetryDelay, firstRetryAt);

        var retry = Assert.Single(s.FireTimer().OfType<ClearTeamsSession>());
        s.Apply(new TeamsSessionClearFailed(retry.Operation, "503") { At = s.Now });
        Assert.Equal(s.Now + s.Settings.RetryDelay * 2, s.State.TimerDueAt);

        var again = Assert.Single(s.FireTimer().OfType<ClearTeamsSession>());
        s.Apply(new TeamsSessionCleared(again.Operation, WasAlreadyGone: true) { At = s.Now });
        Assert.Null(s.State.Session.ExpiresAt);
        Assert.False(s.State.HoldsWork);
    }

    [Fact]
    public void Clear_that_keeps_failing_stops_once_our_session_has_expired()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Uc("Available", onPhone: true));
        var expires = s.State.Session.ExpiresAt!.Value;
        var effects = s.Uc("Available", onPhone: false);
        while (s.Now < expires)
        {
            var clear = Assert.Single(effects.OfType<ClearTeamsSession>());
            s.Apply(new TeamsSessionClearFailed(clear.Operation, "timeout") { At = s.Now });
            effects = s.FireTimer();
        }

        Assert.Null(s.State.Session.ExpiresAt);
        Assert.Contains(s.State.History, h => h.Detail.Contains("expired"));
        Assert.Null(s.State.TimerDueAt);
    }

    [Fact]
    public void Failed_set_presence_is_retried_and_assumed_to_hold_until_cleared()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        var set = Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        s.Apply(new TeamsSessionSetFailed(set.Operation, "timeout") { At = s.Now });
        Assert.NotNull(s.State.Session.ExpiresAt);
        var retry = Assert.Single(s.FireTimer().OfType<SetTeamsSession>());
        s.Succeed([retry]);

        var end = s.Uc("Available", onPhone: false);
        Assert.Single(end.OfType<ClearTeamsSession>());
    }

    [Fact]
    public void Resume_after_restart_resends_the_pending_update_and_redoes_the_session_operation()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Teams("Busy", "InACall"); // T1 sent, never acknowledged
        s.Uc("Available", onPhone: true); // U1 set in flight
        var pending = s.State.Outbox.Pending!;

        s.Advance(TimeSpan.FromSeconds(30));
        var resumed = s.Apply(new Resumed { At = s.Now });
        Assert.Equal(pending, Assert.Single(resumed.OfType<SendUcUpdate>()).Update);
        var set = Assert.Single(resumed.OfType<SetTeamsSession>());
        Assert.True(set.Operation > 1);
        Assert.True(s.LastPersisted);
    }

    [Fact]
    public void Failed_uc_update_is_resent_after_backoff_and_superseded_when_the_person_overrides_it()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        var send = Assert.Single(s.Teams("Busy", "InACall").OfType<SendUcUpdate>());
        s.Apply(new UcUpdateFailed(send.Update.Sequence, "503") { At = s.Now });
        var resent = Assert.Single(s.FireTimer().OfType<SendUcUpdate>());
        Assert.Equal(send.Update, resent.Update);
        s.Apply(new UcUpdateFailed(send.Update.Sequence, "503") { At = s.Now });

        // The person chose while our Busy could still arrive: their choice is re-sent with a higher sequence.
        var reassert = Assert.Single(s.Uc("Away").OfType<SendUcUpdate>());
        Assert.Equal(("Away", 2L), (reassert.Update.Status.Value, reassert.Update.Sequence));
        s.Succeed([reassert]);
        s.Uc("Busy"); // the stale Busy reached UC after all
        s.Uc("Away"); // then our re-assertion
        s.Succeed(s.Teams("Available", "Available"));
        Assert.Equal(["Busy", "Away"], s.UcUpdates.Select(u => u.Status.Value).Distinct());
        Assert.Equal("Away", s.State.UcCurrent?.Value);
        Assert.False(s.State.HoldsWork);
    }

    [Fact]
    public void Unlinking_during_calls_restores_uc_and_clears_our_session()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        s.Succeed(s.Teams("Busy", "InACall"));
        s.Succeed(s.Uc("Busy", onPhone: true));
        var effects = s.Apply(new UserUnlinked { At = s.Now });
        Assert.Equal("Available", Assert.Single(effects.OfType<SendUcUpdate>()).Update.Status.Value);
        Assert.Single(effects.OfType<ClearTeamsSession>());
        s.Succeed(effects);
        Assert.False(s.State.HoldsWork);
    }

    [Fact]
    public void Uc_update_sequence_increases_per_user()
    {
        var s = new PresenceScenario();
        s.Uc("Available");
        for (var i = 0; i < 5; i++)
        {
            s.Succeed(s.Teams("Busy", "InACall"));
            s.Succeed(s.Teams("Available", "Available"));
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), s.UcUpdates.Select(u => u.Sequence));
    }

    [Fact]
    public void Teams_values_parse_case_insensitively_and_unknown_values_are_kept()
    {
        Assert.Same(TeamsAvailability.DoNotDisturb, TeamsAvailability.Parse("donotdisturb"));
        Assert.Same(TeamsActivity.InACall, TeamsActivity.Parse("inACall"));
        Assert.Equal("Focusing", TeamsActivity.Parse("Focusing").Value);
        Assert.False(TeamsActivity.Parse("Focusing").IsDocumented);
        Assert.Equal(15, TeamsActivity.Documented.Count);
        Assert.Equal(9, TeamsAvailability.Documented.Count);
        Assert.Throws<FormatException>(() => TeamsAvailability.Parse(" "));
    }

    [Fact]
    public void Settings_validation_names_each_bad_setting()
    {
        var bad = PresenceSettings.Default with
        {
            SessionRefresh = TimeSpan.FromMinutes(6),
            Mapping = PresenceMapping.Seed with { TeamsToUc = [new TeamsToUcRow("OnThePhone", null, "Busy")] },
        };
        var problems = bad.Validate();
        Assert.Contains(problems, p => p.StartsWith("SessionRefresh"));
        Assert.Contains(problems, p => p.StartsWith("Mapping: teamsToUc[0]") && p.Contains("OnThePhone"));
        Assert.Empty(PresenceSettings.Default.Validate());
    }

    [Fact]
    public void Our_session_is_kept_and_cleared_by_the_application_that_set_it_and_a_new_one_starts_with_the_users_application_now()
    {
        // Several applications (docs/graph-budget.md): the first set names none (the actor picks the user's application),
        // its outcome records the one used, and every later call of that session goes to it.
        var s = new PresenceScenario();
        s.Uc("Available");
        var first = Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        Assert.Null(first.Application);
        Assert.True(s.LastPersisted);
        s.Apply(new TeamsSessionSet(first.Operation, s.Now + first.Expiration, "app-b") { At = s.Now });
        Assert.Equal("app-b", s.State.Session.Application);

        var keepAlive = Assert.Single(s.FireTimer().OfType<SetTeamsSession>());
        Assert.Equal("app-b", keepAlive.Application);
        Assert.True(keepAlive.KeepAlive);
        // The keep-alive fails with an unknown outcome: the session may hold at app-b all the same.
        s.Apply(new TeamsSessionSetFailed(keepAlive.Operation, "timeout", "app-b") { At = s.Now });
        Assert.Equal("app-b", s.State.Session.Application);

        // The UC call ends; once the back-off is over, the clear goes to app-b.
        Assert.Empty(s.Uc("Available", onPhone: false).OfType<ClearTeamsSession>());
        var clear = Assert.Single(s.FireTimer().OfType<ClearTeamsSession>());
        Assert.Equal("app-b", clear.Application);
        s.Apply(new TeamsSessionCleared(clear.Operation, false) { At = s.Now });
        Assert.Null(s.State.Session.Application);

        // The next call is a new session: no application named, so it goes to the user's application as it is then.
        s.Advance(TimeSpan.FromMinutes(1));
        var next = Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        Assert.Null(next.Application);
        Assert.Null(next.ExpiresAt);
    }

    [Fact]
    public void A_first_set_cut_short_by_a_stop_is_cleared_with_every_application()
    {
        // The node stopped while the first set was on its way: it went with the application picked then, which no input
        // recorded, so after the restart any application may hold it.
        var s = new PresenceScenario();
        s.Uc("Available");
        Assert.Single(s.Uc("Available", onPhone: true).OfType<SetTeamsSession>());
        var again = Assert.Single(s.Apply(new Resumed { At = s.Now }).OfType<SetTeamsSession>());
        Assert.Equal(TeamsSession.AnyApplication, s.State.Session.Application);
        Assert.Equal(TeamsSession.AnyApplication, again.Application); // the actor sends it with the user's application now

        // The call ends before the set again went out: withdrawn, and the clear goes to every application.
        var withdraw = Assert.Single(s.Uc("Available", onPhone: false).OfType<WithdrawTeamsSession>());
        var clear = Assert.Single(s.Apply(new TeamsSessionSetWithdrawn(withdraw.Operation) { At = s.Now }).OfType<ClearTeamsSession>());
        Assert.Equal(TeamsSession.AnyApplication, clear.Application);
        s.Apply(new TeamsSessionCleared(clear.Operation, true) { At = s.Now });
        Assert.Null(s.State.Session.Application);
        Assert.Null(s.State.Session.ExpiresAt);
    }
}
