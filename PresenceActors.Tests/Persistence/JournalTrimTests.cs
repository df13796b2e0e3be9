using System.Data.Common;
using Akka.Actor;
using Akka.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using PresenceActors.Persistence;
using PresenceActors.Presence;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Tests.Persistence;

/// <summary>The journal's trim (docs/decisions.md, "Trimming the journal in bulk") on SQLite and on PostgreSQL.</summary>
public class JournalTrimTests
{
    private static readonly UserPresenceOptions SnapshotEveryFive = new() { SnapshotEvery = 5 };

    [Fact]
    public async Task Trim_removes_only_users_events_a_settled_snapshot_holds_and_recovery_goes_on_from_the_highest()
    {
        using var db = new TempDatabase();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        var busy = UserPresenceActor.PersistenceIdFor("busy");
        var quiet = UserPresenceActor.PersistenceIdFor("quiet");
        TeamsPresence? before;
        long highest;

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, SnapshotEveryFive))
        {
            await using var sql = Sqlite(db.Path);
            await ChangesAsync(node, "busy", 12);
            await ChangesAsync(node, "quiet", 1);
            var snapshot = await NewestSnapshotAsync(node, sql, busy);
            Assert.True(snapshot >= 10);
            before = (await node.StateOfAsync("busy")).Teams;
            highest = await JournalAsync(sql, "MAX(sequence_number)", busy);
            var quietRows = await JournalAsync(sql, "COUNT(*)", quiet);
            // Another actor's events below its own snapshot (as a singleton's would be): not the trim's to remove.
            await CopyAsync(sql, "journal", busy, "registry-like");
            await CopyAsync(sql, "snapshot", busy, "registry-like");
            var otherRows = await JournalAsync(sql, "COUNT(*)", "registry-like");
            var covered = await CoveredAsync(sql, busy);
            Assert.Equal(snapshot - 1, covered);

            // A snapshot younger than the trim's margin protects its events: a save Akka reports failed is deleted again.
            var wary = node.TrimWith(TimeSpan.FromHours(1));
            Assert.Equal(0, await wary.TrimOnceAsync(CancellationToken.None));
            Assert.Equal(1, wary.Rounds);
            Assert.Equal(covered, await CoveredAsync(sql, busy));

            var trim = node.TrimWith(TimeSpan.Zero);
            Assert.Equal(covered, await trim.TrimOnceAsync(CancellationToken.None));
            Assert.Equal(covered, trim.Trimmed);
            Assert.Equal(snapshot, await JournalAsync(sql, "MIN(sequence_number)", busy));
            Assert.Equal(highest, await JournalAsync(sql, "MAX(sequence_number)", busy));
            Assert.Equal(highest - snapshot + 1, await JournalAsync(sql, "COUNT(*)", busy));
            Assert.Equal(quietRows, await JournalAsync(sql, "COUNT(*)", quiet));
            Assert.Equal(otherRows, await JournalAsync(sql, "COUNT(*)", "registry-like"));
            Assert.Equal(0, await trim.TrimOnceAsync(CancellationToken.None));
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, SnapshotEveryFive))
        {
            Assert.Equal(before, (await node.StateOfAsync("busy")).Teams);
            node.Users.Tell(new ObserveTeamsPresence("busy", "Available", "Available", "0013", TeamsPresenceSource.Notification));
            await using var sql = Sqlite(db.Path);
            await node.Kit.AwaitAssertAsync(async () =>
                Assert.Equal(highest + 1, await JournalAsync(sql, "MAX(sequence_number)", busy)), TimeSpan.FromSeconds(15));
        }
    }

    [Fact]
    public async Task A_round_covers_the_rows_there_were_when_it_began_so_that_a_steady_load_cannot_keep_it_going()
    {
        using var db = new TempDatabase();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams(), SnapshotEveryFive);
        await using var sql = Sqlite(db.Path);
        var steady = UserPresenceActor.PersistenceIdFor("steady");
        await ChangesAsync(node, "steady", 12);
        var first = await NewestSnapshotAsync(node, sql, steady);
        var last = await LongAsync(sql, "SELECT MAX(ordering) FROM journal", "");

        // The round's pause between windows waits for this clock: it stops after its first window.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(1));
        var trim = node.TrimWith(TimeSpan.Zero, clock);
        var round = trim.TrimOnceAsync(CancellationToken.None);
        await node.Kit.AwaitAssertAsync(async () => Assert.Equal(0, await CoveredAsync(sql, steady)), TimeSpan.FromSeconds(15));

        // Meanwhile the load goes on: more events, and a newer snapshot that holds some of them.
        await ChangesAsync(node, "steady", 24, first: 13);
        var second = await NewestSnapshotAsync(node, sql, steady);
        Assert.True(second > first);
        var laterCovered = await LongAsync(sql, $"SELECT COUNT(*) FROM journal WHERE persistence_id = @p AND ordering > {last} AND sequence_number < {second}", steady);
        Assert.True(laterCovered > 0);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(first - 1, await round.WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(1, trim.Rounds);
        // What was written after the round began waits for the next round.
        Assert.Equal(laterCovered, await LongAsync(sql, $"SELECT COUNT(*) FROM journal WHERE persistence_id = @p AND ordering > {last} AND sequence_number < {second}", steady));
    }

    [Fact]
    public async Task On_postgresql_one_node_at_a_time_trims()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        var busy = UserPresenceActor.PersistenceIdFor("pg-busy");
        await using var node = await TestNode.StartAsync(db.ConnectionString, new RecordingFrontEnd(), new RecordingTeams(), SnapshotEveryFive, PersistenceProvider.PostgreSql);
        await using var sql = new NpgsqlConnection(db.ConnectionString);
        await sql.OpenAsync();
        await ChangesAsync(node, "pg-busy", 12);
        var snapshot = await NewestSnapshotAsync(node, sql, busy);
        Assert.Equal(snapshot - 1, await CoveredAsync(sql, busy));
        var trim = node.TrimWith(TimeSpan.Zero);
        var unpooled = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ConnectionString;

        // Another node's round holds the lock: this one skips its round and removes nothing.
        await using (var other = new NpgsqlConnection(unpooled))
        {
            await other.OpenAsync();
            await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({JournalTrim.TrimLockKey})", other))
                await hold.ExecuteNonQueryAsync();
            Assert.Equal(0, await trim.TrimOnceAsync(CancellationToken.None));
            Assert.Equal(snapshot - 1, await CoveredAsync(sql, busy));
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({JournalTrim.TrimLockKey})", other);
            Assert.True((bool)(await release.ExecuteScalarAsync())!);
        }

        // That node's round ended: the next round here trims, and gives the lock back when it ends.
        Assert.Equal(snapshot - 1, await trim.TrimOnceAsync(CancellationToken.None));
        Assert.Equal(0, await CoveredAsync(sql, busy));
        await using var after = new NpgsqlConnection(unpooled);
        await after.OpenAsync();
        await using var take = new NpgsqlCommand($"SELECT pg_try_advisory_lock({JournalTrim.TrimLockKey})", after);
        Assert.True((bool)(await take.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// Links <paramref name="userId"/> and sends Teams changes numbered <paramref name="first"/> to <paramref name="changes"/>, then waits until every one and the
    /// link's UC work are journaled: nothing of this user is written after it but the snapshot in flight.
    /// </summary>
    private static async Task ChangesAsync(TestNode node, string userId, int changes, int first = 1)
    {
        if (first == 1)
            node.Users.Tell(new LinkUser(userId, $"uc-{userId}"));
        for (var i = first; i <= changes; i++)
            node.Users.Tell(new ObserveTeamsPresence(userId, i % 2 == 0 ? "Away" : "Available", i % 2 == 0 ? "Away" : "Available", $"{i:D6}", TeamsPresenceSource.Notification));
        await node.Kit.AwaitAssertAsync(async () =>
        {
            var state = await node.StateOfAsync(userId);
            Assert.Equal($"{changes:D6}", state.Teams?.SequenceNumber);
            Assert.Equal(state.Outbox.LastSequence, state.Outbox.LastAcknowledged);
        }, TimeSpan.FromSeconds(15));
    }

    /// <summary>
    /// The newest snapshot's sequence number once the snapshot the actor asked for last is in the store. The actor saves
    /// one each time a write crosses a multiple of <see cref="UserPresenceOptions.SnapshotEvery"/>, so the last one lies in
    /// the same step as the highest event. The store's loads do not wait for its saves (on PostgreSQL one can answer before
    /// a save sent earlier has committed), hence the wait.
    /// </summary>
    private static async Task<long> NewestSnapshotAsync(TestNode node, DbConnection sql, string persistenceId)
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(node.System).SnapshotStoreFor(null);
        var highest = await JournalAsync(sql, "MAX(sequence_number)", persistenceId);
        long newest = 0;
        await node.Kit.AwaitAssertAsync(async () =>
        {
            var loaded = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(15));
            Assert.NotNull(loaded.Snapshot);
            newest = loaded.Snapshot.Metadata.SequenceNr;
            Assert.Equal(highest / SnapshotEveryFive.SnapshotEvery, newest / SnapshotEveryFive.SnapshotEvery);
        }, TimeSpan.FromSeconds(15));
        return newest;
    }

    private static SqliteConnection Sqlite(string file)
    {
        var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        return connection;
    }

    /// <summary>An aggregate (<c>COUNT(*)</c>, <c>MAX(sequence_number)</c>, ...) over the journal's rows of <paramref name="persistenceId"/>.</summary>
    private static Task<long> JournalAsync(DbConnection connection, string aggregate, string persistenceId) =>
        LongAsync(connection, $"SELECT {aggregate} FROM journal WHERE persistence_id = @p", persistenceId);

    /// <summary>Events of <paramref name="persistenceId"/> older than its newest snapshot.</summary>
    private static Task<long> CoveredAsync(DbConnection connection, string persistenceId) => LongAsync(connection,
        "SELECT COUNT(*) FROM journal j WHERE j.persistence_id = @p AND j.sequence_number < (SELECT MAX(sequence_number) FROM snapshot s WHERE s.persistence_id = @p)",
        persistenceId);

    private static async Task<long> LongAsync(DbConnection connection, string sql, string persistenceId)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var parameter = command.CreateParameter();
        (parameter.ParameterName, parameter.Value) = ("@p", persistenceId);
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>Every row of <paramref name="from"/> in <paramref name="table"/> again under another persistence id (SQLite).</summary>
    private static async Task CopyAsync(SqliteConnection connection, string table, string from, string to)
    {
        var columns = new List<string>();
        await using (var info = connection.CreateCommand())
        {
            info.CommandText = $"SELECT name FROM pragma_table_info('{table}') WHERE name <> 'ordering'";
            await using var reader = await info.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                columns.Add(reader.GetString(0));
        }

        await using var copy = connection.CreateCommand();
        copy.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) SELECT {string.Join(", ", columns.Select(c => c == "persistence_id" ? "$to" : c))} FROM {table} WHERE persistence_id = $from";
        copy.Parameters.AddWithValue("$to", to);
        copy.Parameters.AddWithValue("$from", from);
        Assert.True(await copy.ExecuteNonQueryAsync() > 0);
    }
}
