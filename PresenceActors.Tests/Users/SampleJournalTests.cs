using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Tests.Users;

/// <summary>
/// Samples/journal-v1.db was written by the first released version with <see cref="WriteScenarioAsync"/>. Later
/// versions must recover it unchanged: persisted events are a public contract. Regenerate only on purpose, with
/// PRESENCE_WRITE_SAMPLE_JOURNAL=1, when the format deliberately changes (and keep the old file as another sample).
/// </summary>
public class SampleJournalTests
{
    /// <summary>
    /// The sample's UC call began the day the sample was written: with the default length limit (8 hours) it would be
    /// taken as ended on every recovery since, so this reads it with a limit longer than the sample's age (the limit on a
    /// recovered call has its own test below).
    /// </summary>
    private static readonly UserPresenceOptions Options = new()
    {
        SnapshotEvery = 5,
        Rules = PresenceSettings.Default with { MaxUcCallLength = TimeSpan.FromDays(36_500) },
    };

    [Fact]
    public async Task Sample_journal_of_version_1_recovers_every_user()
    {
        using var db = new TempDatabase();
        File.Copy(SamplePath(), db.Path);
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        await using var node = await TestNode.StartAsync(db.Path, frontEnd, teams, Options);

        var inTeamsCall = await node.StateOfAsync("sample-teams-call");
        Assert.True(inTeamsCall.TeamsCallActive);
        Assert.Equal("Lunch – back at 2", inTeamsCall.UcPrior?.Value);
        Assert.Equal(1, inTeamsCall.Outbox.LastAcknowledged);

        var inUcCall = await node.StateOfAsync("sample-uc-call");
        Assert.True(inUcCall.UcOnPhone);
        Assert.NotNull(inUcCall.Session.ExpiresAt);
        // The resumed actor re-arms its keep-alive (after setting the session again if it lapsed since the sample was written).
        await node.Kit.AwaitAssertAsync(async () => Assert.NotNull((await node.StateOfAsync("sample-uc-call")).TimerDueAt), TimeSpan.FromSeconds(15));

        var snapshotted = await node.StateOfAsync("sample-snapshotted");
        Assert.Equal((8L, 8L), (snapshotted.Outbox.LastSequence, snapshotted.Outbox.LastAcknowledged));
        Assert.False(snapshotted.TeamsCallActive);
        Assert.Equal("DoNotDisturb", snapshotted.UcCurrent?.Value);

        // And the call in progress still ends with the right restore.
        node.Users.Tell(new ObserveTeamsPresence("sample-teams-call", "Available", "Available", "9999", TeamsPresenceSource.Notification), Akka.Actor.ActorRefs.NoSender);
        var restore = await frontEnd.NextAsync();
        Assert.Equal(("Lunch – back at 2", 2L), (restore.Status.Value, restore.Sequence));

        // The UC call ends: our session goes (cleared, or already expired since the sample was written).
        node.Users.Tell(new ReportUcPresence("sample-uc-call", "Available", false, DateTimeOffset.UtcNow), Akka.Actor.ActorRefs.NoSender);
        await node.Kit.AwaitAssertAsync(async () =>
        {
            var ended = await node.StateOfAsync("sample-uc-call");
            Assert.Null(ended.Session.ExpiresAt);
            Assert.False(ended.HoldsWork);
        }, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_recovered_uc_call_older_than_the_length_limit_is_ended_and_our_session_cleared()
    {
        using var db = new TempDatabase();
        File.Copy(SamplePath(), db.Path);
        var teams = new RecordingTeams();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), teams, new UserPresenceOptions { SnapshotEvery = 5 });

        // Written days ago and never reported ended: the default 8 hours are long past when the actor resumes.
        await node.Kit.AwaitAssertAsync(async () =>
        {
            var state = await node.StateOfAsync("sample-uc-call");
            Assert.False(state.UcOnPhone);
            Assert.Null(state.Session.ExpiresAt);
            Assert.Contains(state.History, h => h.Rule == "U2" && h.Detail.Contains("not reported ended"));
        }, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task This_version_writes_what_the_sample_holds()
    {
        using var fresh = new TempDatabase();
        await WriteScenarioAsync(fresh.Path);
        if (Environment.GetEnvironmentVariable("PRESENCE_WRITE_SAMPLE_JOURNAL") == "1")
            File.Copy(fresh.Path, SourceSamplePath(), overwrite: true);

        var expected = ManifestsIn(SamplePath());
        Assert.Equal(expected, ManifestsIn(fresh.Path));
        Assert.Contains("state-1", expected);
        Assert.Contains("teams", expected);
    }

    private static async Task WriteScenarioAsync(string file)
    {
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        await using (var node = await TestNode.StartAsync(file, frontEnd, teams, Options))
        {
            var at = new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);
            node.Users.Tell(new LinkUser("sample-teams-call", "uc-100"), Akka.Actor.ActorRefs.NoSender);
            node.Users.Tell(new ReportUcPresence("sample-teams-call", "Lunch – back at 2", false, at), Akka.Actor.ActorRefs.NoSender);
            node.Users.Tell(new ObserveTeamsPresence("sample-teams-call", "Busy", "InACall", "0001", TeamsPresenceSource.Notification), Akka.Actor.ActorRefs.NoSender);

            node.Users.Tell(new LinkUser("sample-uc-call", "uc-101"), Akka.Actor.ActorRefs.NoSender);
            node.Users.Tell(new ReportUcPresence("sample-uc-call", "Available", true, at), Akka.Actor.ActorRefs.NoSender);

            node.Users.Tell(new LinkUser("sample-snapshotted", "uc-102"), Akka.Actor.ActorRefs.NoSender);
            node.Users.Tell(new ReportUcPresence("sample-snapshotted", "DoNotDisturb", false, at), Akka.Actor.ActorRefs.NoSender);
            for (var i = 0; i < 4; i++)
            {
                node.Users.Tell(new ObserveTeamsPresence("sample-snapshotted", "Busy", "InACall", $"{2 * i + 1:D4}", TeamsPresenceSource.Notification), Akka.Actor.ActorRefs.NoSender);
                node.Users.Tell(new ObserveTeamsPresence("sample-snapshotted", "Available", "Available", $"{2 * i + 2:D4}", TeamsPresenceSource.Notification), Akka.Actor.ActorRefs.NoSender);
            }

            await node.Kit.AwaitAssertAsync(async () =>
            {
                Assert.Equal(1, (await node.StateOfAsync("sample-teams-call")).Outbox.LastAcknowledged);
                Assert.NotNull((await node.StateOfAsync("sample-uc-call")).Session.ExpiresAt);
                Assert.Equal(8, (await node.StateOfAsync("sample-snapshotted")).Outbox.LastAcknowledged);
            });
        }

        SqliteConnection.ClearAllPools();
        using var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
        checkpoint.ExecuteNonQuery();
    }

    /// <summary>The set of manifests the user actors wrote, journal and snapshots together.</summary>
    private static SortedSet<string> ManifestsIn(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly");
        connection.Open();
        using var query = connection.CreateCommand();
        query.CommandText =
            "SELECT manifest FROM journal WHERE persistence_id LIKE 'user-presence-%' UNION SELECT manifest FROM snapshot WHERE persistence_id LIKE 'user-presence-%'";
        var manifests = new SortedSet<string>();
        using var reader = query.ExecuteReader();
        while (reader.Read())
            manifests.Add(reader.GetString(0));
        return manifests;
    }

    private static string SamplePath() => Path.Combine(AppContext.BaseDirectory, "Samples", "journal-v1.db");

    private static string SourceSamplePath([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "Samples", "journal-v1.db");
}
