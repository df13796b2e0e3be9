using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using LinqToDB;
using Microsoft.Data.Sqlite;

namespace PresenceActors.Persistence;

public static class PersistenceSetup
{
    public static AkkaConfigurationBuilder WithPresencePersistence(this AkkaConfigurationBuilder builder, PresencePersistenceOptions options)
    {
        var (connectionString, provider) = options.Provider switch
        {
            PersistenceProvider.Sqlite => (PrepareSqlite(options.ConnectionString), ProviderName.SQLiteMS),
            PersistenceProvider.PostgreSql => (options.ConnectionString, ProviderName.PostgreSQL15),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "Persistence provider must be Sqlite or PostgreSql."),
        };

        return builder.WithSqlPersistence(
            connectionString,
            provider,
            journalBuilder: journal => journal.WithHealthCheck(),
            snapshotBuilder: snapshot => snapshot.WithHealthCheck());
    }

    /// <summary>Creates the file's folder and switches it to WAL once, so that journal and snapshot writers do not lock each other out.</summary>
    internal static string PrepareSqlite(string fileOrConnectionString)
    {
        var builder = fileOrConnectionString.Contains('=')
            ? new SqliteConnectionStringBuilder(fileOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = fileOrConnectionString };
        if (builder.Mode != SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource))
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(folder))
                Directory.CreateDirectory(folder);
            if (builder.DefaultTimeout < 30)
                builder.DefaultTimeout = 30;
            using var connection = new SqliteConnection(builder.ConnectionString);
            connection.Open();
            using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteNonQuery();
        }

        return builder.ConnectionString;
    }
}
