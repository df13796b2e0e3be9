using Akka.Actor;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Tests.Users;

/// <summary>The actor on the real wiring: sharding on a self-joined node, journal and snapshots in a SQLite file.</summary>
public class UserPresenceActorTests
{
    private static readonly UserPresenceOptions FastKeepAlive = new()
    {
        Rules = PresenceSettings.Default with { SessionTtl = TimeSpan.FromSeconds(3), SessionRefresh = TimeSpan.FromMilliseconds(400) },
        SnapshotEvery = 5,
    };

    [Fact]
    public async Task Teams_call_survives_a_crash_and_its_end_restores_the_prior_status()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams))
        {
            node.Users.Tell(new LinkUser("u1", "uc-1"));
            node.Users.Tell(new ReportUcPresence("u1", "Lunch (custom)", false, DateTimeOffset.UtcNow));
            node.Users.Tell(new ObserveTeamsPresence("u1", "Busy", "InACall", "0001", TeamsPresenceSource.Notification));
            var busy = await frontEnd.NextAsync();
            Assert.Equal(("Busy", UcUpdate.TeamsCallStarted, 1L), (busy.Status.Value, busy.Reason, busy.Sequence));
            Assert.True((await node.StateOfAsync("u1")).TeamsCallActive);
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams))
        {
            var recovered = await node.StateOfAsync("u1");
            Assert.True(recovered.TeamsCallActive);
            Assert.Equal("Lunch (custom)", recovered.UcPrior?.Value);

            node.Users.Tell(new ObserveTeamsPresence("u1", "Available", "Available", "0002", TeamsPresenceSource.Notification));
            var restore = await frontEnd.NextAsync();
            Assert.Equal(("Lunch (custom)", UcUpdate.TeamsCallEnded, 2L), (restore.Status.Value, restore.Reason, restore.Sequence));
            Assert.Equal("uc-1", restore.UcUserId);
        }
    }

    [Fact]
    public async Task The_snapshot_asked_of_the_actor_and_the_one_built_from_its_state_agree()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        await using var node = await TestNode.StartAsync(db.Path, frontEnd, new RecordingTeams());
        node.Users.Tell(new LinkUser("u1", "uc-1"));
        node.Users.Tell(new ReportUcPresence("u1", "Lunch (custom)", false, DateTimeOffset.UtcNow));
        node.Users.Tell(new ObserveTeamsPresence("u1", "Busy", "InACall", "0001", TeamsPresenceSource.Notification));
        await frontEnd.NextAsync();

        // GetSnapshot is what the next release asks; this one builds the snapshot from the state (UserSnapshots).
        var asked = await node.Users.Ask<UserPresenceSnapshot>(new UserPresenceQueries.GetSnapshot("u1"), TimeSpan.FromSeconds(15));
        var built = await node.Users.AskSnapshotAsync("u1", TimeSpan.FromSeconds(15));

        Assert.Equal(("u1", "uc-1", "Busy", "InACall", "Busy", "Lunch (custom)", true),
            (asked.UserId, asked.UcUserId, asked.TeamsAvailability, asked.TeamsActivity, asked.UcStatus, asked.UcPriorStatus, asked.TeamsCallActive));
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(asked), System.Text.Json.JsonSerializer.Serialize(built));
    }

    [Fact]
    public async Task Uc_call_keep_alive_resumes_by_itself_after_a_crash_and_the_final_clear_happens()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, FastKeepAlive))
        {
            node.Users.Tell(new LinkUser("u2", "uc-2"));
            node.Users.Tell(new ReportUcPresence("u2", "Available", true, DateTimeOffset.UtcNow));
            Assert.Equal("set u2 3s", await teams.NextAsync());
            Assert.Equal("set u2 3s", await teams.NextAsync()); // keep-alive
            await node.CrashAsync();
        }

        while (teams.All.TryDequeue(out _)) { }
        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, FastKeepAlive))
        {
            // No message is sent to u2: remembered entities restart it, and it re-arms its keep-alive.
            await node.Kit.AwaitAssertAsync(
                () => Assert.True(teams.All.Count(c => c == "set u2 3s") >= 3, string.Join(", ", teams.All)),
                TimeSpan.FromSeconds(15));

            node.Users.Tell(new ReportUcPresence("u2", "Available", false, DateTimeOffset.UtcNow));
            await node.Kit.AwaitAssertAsync(() =>
            {
                var calls = teams.All.ToList();
                Assert.True(calls.LastIndexOf("clear u2") > calls.LastIndexOf("set u2 3s"), string.Join(", ", calls));
            }, TimeSpan.FromSeconds(15));
            await node.Kit.AwaitAssertAsync(async () =>
            {
                var state = await node.StateOfAsync("u2");
                Assert.Null(state.Session.ExpiresAt);
                Assert.False(state.HoldsWork);
            });
            Assert.Empty(frontEnd.All);
        }
    }

    [Fact]
    public async Task A_failed_presence_read_is_retried_with_back_off_until_it_tells_a_real_teams_call()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        var options = FastKeepAlive with { Rules = FastKeepAlive.Rules with { RetryDelay = TimeSpan.FromMilliseconds(200) } };
        await using var node = await TestNode.StartAsync(db.Path, frontEnd, teams, options);
        node.Users.Tell(new LinkUser("u5", "uc-5"));
        node.Users.Tell(new ReportUcPresence("u5", "Available", true, DateTimeOffset.UtcNow));
        Assert.Equal("set u5 3s", await teams.NextAsync());
        node.Users.Tell(new ReportUcPresence("u5", "Available", false, DateTimeOffset.UtcNow.AddSeconds(1)));
        Assert.Equal("clear u5", await SkipKeepAlivesAsync(teams));
        // The read that follows every clear (E1) has happened and found Teams available.
        await Eventually.TrueAsync(() => teams.All.Count(c => c == "read u5") == 1, what: "the read after the clear");
        await Eventually.TrueAsync(async () => (await node.StateOfAsync("u5")).Teams?.Availability.Value == "Available", what: "its answer taken");

        // Right after our clear, Teams shows a call: a late echo or a real call; only a read can tell, and the first two fail.
        teams.FailingReads = 2;
        teams.Show("u5", "Busy", "InACall");
        node.Users.Tell(new ObserveTeamsPresence("u5", "Busy", "InACall", "0009", TeamsPresenceSource.Notification));

        var busy = await frontEnd.NextAsync();
        Assert.Equal(("Busy", UcUpdate.TeamsCallStarted), (busy.Status.Value, busy.Reason));
        Assert.Equal(1 + 3, teams.All.Count(c => c == "read u5")); // two failed, the third told the call
    }

    private static async Task<string> SkipKeepAlivesAsync(RecordingTeams teams)
    {
        string call;
        while ((call = await teams.NextAsync()).StartsWith("set ", StringComparison.Ordinal))
        {
        }

        return call;
    }

    [Fact]
    public async Task Pending_uc_update_is_delivered_after_a_crash()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd { Failing = true };
        var teams = new RecordingTeams();

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams))
        {
            node.Users.Tell(new LinkUser("u3", "uc-3"));
            node.Users.Tell(new ReportUcPresence("u3", "Away", false, DateTimeOffset.UtcNow));
            node.Users.Tell(new ObserveTeamsPresence("u3", "Busy", "InACall", null, TeamsPresenceSource.Notification));
            await node.Kit.AwaitAssertAsync(async () => Assert.True((await node.StateOfAsync("u3")).Outbox.Failures >= 1), TimeSpan.FromSeconds(15));
            await node.CrashAsync();
        }

        frontEnd.Failing = false;
        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams))
        {
            var delivered = await frontEnd.NextAsync();
            Assert.Equal(("Busy", 1L), (delivered.Status.Value, delivered.Sequence));
            await node.Kit.AwaitAssertAsync(async () => Assert.Null((await node.StateOfAsync("u3")).Outbox.Pending));
        }
    }

    [Fact]
    public async Task Idle_users_passivate_but_users_in_a_call_stay()
    {
        using var db = new TempDatabase();
        var options = FastKeepAlive with { PassivateAfter = TimeSpan.FromMilliseconds(300) };
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams(), options);
        node.Users.Tell(new LinkUser("idle", "uc-idle"));
        node.Users.Tell(new LinkUser("calling", "uc-calling"));
        node.Users.Tell(new ReportUcPresence("calling", "Available", true, DateTimeOffset.UtcNow));
        await node.StateOfAsync("idle");

        await node.Kit.AwaitAssertAsync(async () =>
        {
            var regionState = await node.Users.Ask<Akka.Cluster.Sharding.CurrentShardRegionState>(
                Akka.Cluster.Sharding.GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
            var entities = regionState.Shards.SelectMany(s => s.EntityIds).ToHashSet();
            Assert.DoesNotContain("idle", entities);
            Assert.Contains("calling", entities);
        }, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Snapshots_replace_the_journal_and_recovery_gives_the_same_state()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        UserPresenceState before;

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, FastKeepAlive,
                         trimInterval: TimeSpan.FromMilliseconds(300), trimSnapshotAge: TimeSpan.Zero))
        {
            node.Users.Tell(new LinkUser("u4", "uc-4"));
            for (var i = 0; i < 6; i++)
            {
                node.Users.Tell(new ObserveTeamsPresence("u4", "Busy", "InACall", $"{2 * i:D4}", TeamsPresenceSource.Notification));
                node.Users.Tell(new ObserveTeamsPresence("u4", "Available", "Available", $"{2 * i + 1:D4}", TeamsPresenceSource.Notification));
            }

            await node.Kit.AwaitAssertAsync(async () => Assert.Equal(12, (await node.StateOfAsync("u4")).Outbox.LastAcknowledged));
            before = await node.StateOfAsync("u4");
            // One snapshot, and once the journal's trim ran, no more events than one snapshot interval: the snapshot's own
            // (the highest sequence number) and those after it.
            await node.Kit.AwaitAssertAsync(() =>
            {
                var (snapshots, live) = CountRows(db.Path, "u4");
                Assert.Equal(1L, snapshots);
                Assert.InRange(live, 1L, FastKeepAlive.SnapshotEvery);
                Assert.True(node.Trim.Trimmed > 0);
            }, TimeSpan.FromSeconds(15));
        }

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, FastKeepAlive))
        {
            var after = await node.StateOfAsync("u4");
            Assert.Equal(before.Outbox.LastSequence, after.Outbox.LastSequence);
            Assert.Equal(before.Teams, after.Teams);
            Assert.Equal(before.History, after.History);
        }

        // Recovery went through the snapshot; the journal did not grow back beyond one interval.
        var (afterSnapshots, afterLive) = CountRows(db.Path, "u4");
        Assert.Equal(1L, afterSnapshots);
        Assert.InRange(afterLive, 1L, FastKeepAlive.SnapshotEvery);
    }

    /// <summary>(snapshots, journal rows) of one user.</summary>
    private static (long Snapshots, long LiveEvents) CountRows(string file, string userId)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.Parameters.AddWithValue("$id", UserPresenceActor.PersistenceIdFor(userId));
        command.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = $id";
        var snapshots = (long)command.ExecuteScalar()!;
        command.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = $id";
        return (snapshots, (long)command.ExecuteScalar()!);
    }
}
