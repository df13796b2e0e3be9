using LinqToDB.Data;
using PresenceActors.Persistence;
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
            using (var db = new DataConnection(PersistenceSetup.SqliteDataOptions(connectionString)))
            {
                Assert.Equal("wal", db.Execute<string>("PRAGMA journal_mode"));
                Assert.Equal(1L, db.Execute<long>("PRAGMA synchronous")); // NORMAL (FULL is 2)
                Assert.Equal(30_000L, db.Execute<long>("PRAGMA busy_timeout"));
            }

            // A new connection (not the pooled one, which would keep the first one's pragmas) is tuned as well.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using var again = new DataConnection(PersistenceSetup.SqliteDataOptions(connectionString));
            Assert.Equal(1L, again.Execute<long>("PRAGMA synchronous"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }
}
