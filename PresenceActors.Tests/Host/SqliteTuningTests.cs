using LinqToDB.Data;
using LinqToDB.Interceptors;
using Microsoft.Data.Sqlite;
using PresenceActors.Persistence;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The journal's SQLite connections (docs/decisions.md, "Cheaper commits").</summary>
public class SqliteTuningTests
{
    [Fact]
    public void Journal_connections_commit_to_the_wal_without_waiting_for_the_disk_and_wait_out_other_writers_in_sqlite()
    {
        var folder = Directory.CreateTempSubdirectory("presence-sqlite-");
        try
        {
            var connectionString = PersistenceSetup.PrepareSqlite(Path.Combine(folder.FullName, "presence.db"));
            using (var db = new DataConnection(PersistenceSetup.SqliteDataOptions(connectionString, yieldOnOpen: true)))
            {
                Assert.Equal("wal", db.Execute<string>("PRAGMA journal_mode"));
                Assert.Equal(1L, db.Execute<long>("PRAGMA synchronous")); // NORMAL (FULL is 2)
                Assert.Equal(30_000L, db.Execute<long>("PRAGMA busy_timeout"));
            }

            // A new connection (not the pooled one, which would keep the first one's pragmas) is tuned as well.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using var again = new DataConnection(PersistenceSetup.SqliteDataOptions(connectionString, yieldOnOpen: true));
            Assert.Equal(1L, again.Execute<long>("PRAGMA synchronous"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_journals_asynchronous_open_gives_its_thread_back_before_its_pragmas_and_the_snapshot_stores_does_not(bool journal)
    {
        using var db = new TempDatabase();
        await using var connection = new SqliteConnection($"Data Source={db.Path}");
        await connection.OpenAsync();
        var tuning = new SqliteConnectionTuning(yieldOnOpen: journal);

        // SQLite's asynchronous calls complete synchronously. The journal's open returns first and goes on from its
        // caller's queue (docs/decisions.md, "The journal's transactions on SQLite"); the snapshot store's runs at once.
        var queue = new QueueContext();
        var previous = SynchronizationContext.Current;
        Task opened;
        SynchronizationContext.SetSynchronizationContext(queue);
        try
        {
            opened = tuning.ConnectionOpenedAsync(default(ConnectionEventData), connection, CancellationToken.None);
            Assert.Equal(!journal, opened.IsCompleted);
            Assert.Equal(journal ? 0L : 30_000L, await PragmaAsync(connection, "busy_timeout"));
            Assert.Equal(journal ? 1 : 0, queue.RunQueued());
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        await opened.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1L, await PragmaAsync(connection, "synchronous")); // NORMAL
        Assert.Equal(30_000L, await PragmaAsync(connection, "busy_timeout"));
        Assert.Equal(1L, tuning.Opened);
    }

    /// <summary>Keeps what is posted to it until <see cref="RunQueued"/> runs it on the calling thread.</summary>
    private sealed class QueueContext : SynchronizationContext
    {
        private readonly Queue<(SendOrPostCallback Callback, object? State)> _posted = new();

        public override void Post(SendOrPostCallback d, object? state) => _posted.Enqueue((d, state));

        public int RunQueued()
        {
            var ran = 0;
            while (_posted.TryDequeue(out var next))
            {
                next.Callback(next.State);
                ran++;
            }

            return ran;
        }
    }

    private static async Task<long> PragmaAsync(SqliteConnection connection, string pragma)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma}";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
