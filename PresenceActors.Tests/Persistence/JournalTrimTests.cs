using System.Data.Common;
using Akka.Actor;
using Microsoft.Data.Sqlite;
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
    public async Task Trim_removes_only_users_events_a_newer_snapshot_holds_and_recovery_goes_on_from_the_highest()
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
            node.Users.Tell(new LinkUser("busy", "uc-busy"));
            for (var i = 1; i <= 12; i++)
                node.Users.Tell(new ObserveTeamsPresence("busy", i % 2 == 0 ? "Away" : "Available", i % 2 == 0 ? "Away" : "Available", $"{i:D4}", TeamsPresenceSource.Notification));
            node.Users.Tell(new LinkUser("quiet", "uc-quiet"));
            node.Users.Tell(new ObserveTeamsPresence("quiet", "Away", "Away", "0001", TeamsPresenceSource.Notification));
            await node.Kit.AwaitAssertAsync(async () =>
            {
                Assert.Equal("Away", (await node.StateOfAsync("busy")).Teams?.Availability.Value);
                Assert.Equal("Away", (await node.StateOfAsync("quiet")).Teams?.Availability.Value);
                Assert.True(await LongAsync(sql, "SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = @p", busy) >= 10);
            }, TimeSpan.FromSeconds(15));
            before = (await node.StateOfAsync("busy")).Teams;
            highest = await LongAsync(sql, "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p", busy);
            var quietRows = await LongAsync(sql, "SELECT COUNT(*) FROM journal WHERE persistence_id = @p", quiet);
            // Another actor's events below its own snapshot (as a singleton's would be): not the trim's to remove.
            await CopyAsync(sql, "journal", busy, "registry-like");
            await CopyAsync(sql, "snapshot", busy, "registry-like");
            var otherRows = await LongAsync(sql, "SELECT COUNT(*) FROM journal WHERE persistence_id = @p", "registry-like");
            Assert.True(await CoveredAsync(sql, busy) > 0);

            var removed = await node.Trim.TrimOnceAsync(CancellationToken.None);

            Assert.Equal(removed, node.Trim.Trimmed);
            Assert.True(removed > 0);
            Assert.Equal(0, await CoveredAsync(sql, busy));
            Assert.Equal(highest, await LongAsync(sql, "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p", busy));
            Assert.Equal(await LongAsync(sql, "SELECT MAX(sequence_number) FROM snapshot WHERE persistence_id = @p", busy),
                await LongAsync(sql, "SELECT MIN(sequence_number) FROM journal WHERE persistence_id = @p", busy));
            Assert.Equal(quietRows, await LongAsync(sql, "SELECT COUNT(*) FROM journal WHERE persistence_id = @p", quiet));
            Assert.Equal(otherRows, await LongAsync(sql, "SELECT COUNT(*) FROM journal WHERE persistence_id = @p", "registry-like"));
            Assert.Equal(0, await node.Trim.TrimOnceAsync(CancellationToken.None));
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, frontEnd, teams, SnapshotEveryFive))
        {
            Assert.Equal(before, (await node.StateOfAsync("busy")).Teams);
            node.Users.Tell(new ObserveTeamsPresence("busy", "Available", "Available", "0013", TeamsPresenceSource.Notification));
            await using var sql = Sqlite(db.Path);
            await node.Kit.AwaitAssertAsync(async () =>
                Assert.Equal(highest + 1, await LongAsync(sql, "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p", busy)), TimeSpan.FromSeconds(15));
        }
    }

    [Fact]
    public async Task On_postgresql_one_node_at_a_time_trims()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        var busy = UserPresenceActor.PersistenceIdFor("pg-busy");
        await using var node = await TestNode.StartAsync(db.ConnectionString, new RecordingFrontEnd(), new RecordingTeams(), SnapshotEveryFive, PersistenceProvider.PostgreSql);
        await using var sql = new NpgsqlConnection(db.ConnectionString);
        await sql.OpenAsync();
        node.Users.Tell(new LinkUser("pg-busy", "uc-pg-busy"));
        for (var i = 1; i <= 12; i++)
            node.Users.Tell(new ObserveTeamsPresence("pg-busy", i % 2 == 0 ? "Away" : "Available", i % 2 == 0 ? "Away" : "Available", $"{i:D4}", TeamsPresenceSource.Notification));
        await node.Kit.AwaitAssertAsync(async () =>
            Assert.True(await LongAsync(sql, "SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = @p", busy) >= 10), TimeSpan.FromSeconds(15));
        var covered = await CoveredAsync(sql, busy);
        Assert.True(covered > 0);

        // Another node's round holds the lock: this one skips its round and removes nothing.
        await using (var other = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ConnectionString))
        {
            await other.OpenAsync();
            await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({JournalTrim.TrimLockKey})", other))
                await hold.ExecuteNonQueryAsync();
            Assert.Equal(0, await node.Trim.TrimOnceAsync(CancellationToken.None));
            Assert.Equal(covered, await CoveredAsync(sql, busy));
        }

        // That node is gone (its session ended with it): the next round trims.
        Assert.Equal(covered, await node.Trim.TrimOnceAsync(CancellationToken.None));
        Assert.Equal(0, await CoveredAsync(sql, busy));
    }

    private static SqliteConnection Sqlite(string file)
    {
        var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        return connection;
    }

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
