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
            PersistenceProvider.PostgreSql => (PreparePostgres(options.ConnectionString), ProviderName.PostgreSQL15),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "Persistence provider must be Sqlite or PostgreSql."),
        };

        // SQLite's connections are tuned as they open (SqliteConnectionTuning); on PostgreSQL the nodes create the tables
        // one at a time (PostgresSchemaLock).
        var (journalData, snapshotData) = options.Provider == PersistenceProvider.Sqlite
            ? (SqliteDataOptions(connectionString, yieldOnOpen: true), SqliteDataOptions(connectionString, yieldOnOpen: false))
            : (PostgresDataOptions(connectionString), PostgresDataOptions(connectionString));
        builder = builder.WithSqlPersistence(
            new SqlJournalOptions(isDefaultPlugin: true) { ConnectionString = connectionString, ProviderName = provider, DataOptions = journalData, AutoInitialize = true },
            new SqlSnapshotOptions(isDefaultPlugin: true) { ConnectionString = connectionString, ProviderName = provider, DataOptions = snapshotData, AutoInitialize = true },
            journal => journal.WithHealthCheck(),
            snapshot => snapshot.WithHealthCheck());

        // On PostgreSQL, sharding's own bookkeeping (which shards and users to restart) reads and writes through plugins
        // of its own with a small pool of their own: a dead node's shards then load in milliseconds instead of queueing
        // behind the recoveries of the users they restart (docs/decisions.md, "Fail-over timings"). Same tables.
        if (options.Provider == PersistenceProvider.PostgreSql)
        {
            var sharding = PrepareShardingPostgres(connectionString);
            var shardingData = PostgresDataOptions(sharding);
            builder = builder.WithSqlPersistence(
                new SqlJournalOptions(false, ShardingPluginIdentifier) { ConnectionString = sharding, ProviderName = provider, DataOptions = shardingData, AutoInitialize = true },
                new SqlSnapshotOptions(false, ShardingPluginIdentifier) { ConnectionString = sharding, ProviderName = provider, DataOptions = shardingData, AutoInitialize = true });
        }

        // SQLite has one writer, and Microsoft.Data.Sqlite waits out every collision by sleeping 150 ms. Its transactions
        // begin IMMEDIATE (taking the write lock) unless read-uncommitted, so the journal's reads (an actor's recovery)
        // queued behind its writes; and the journal's 3 concurrent write transactions collided with each other. Reads
        // without the write lock (WAL keeps them consistent) and one writer batching up to 100 events per transaction
        // took B4's registration from 68 to 250 users/s (6,000 users).
        return options.Provider == PersistenceProvider.Sqlite
            ? builder.AddHocon("""
                akka.persistence.journal.sql { parallelism = 1, read-isolation-level = read-uncommitted }
                akka.persistence.snapshot-store.sql.read-isolation-level = read-uncommitted
                """, HoconAddMode.Prepend)
            : builder;
    }

    /// <summary>
    /// How the journal and snapshot store reach SQLite: every connection gets synchronous=NORMAL and SQLite's own busy wait;
    /// the journal's also yield on opening (<see cref="SqliteConnectionTuning"/>).
    /// </summary>
    internal static DataOptions SqliteDataOptions(string connectionString, bool yieldOnOpen) =>
        new DataOptions().UseConnectionString(ProviderName.SQLiteMS, connectionString).UseInterceptor(new SqliteConnectionTuning(yieldOnOpen));

    /// <summary>How the journal and snapshot store reach PostgreSQL: their table creation takes the cluster-wide schema lock.</summary>
    internal static DataOptions PostgresDataOptions(string connectionString) =>
        new DataOptions().UseConnectionString(ProviderName.PostgreSQL15, connectionString).UseInterceptor(new PostgresSchemaLock());

    /// <summary>Connections one node may hold unless the connection string says otherwise.</summary>
    public const int DefaultPostgresPoolSize = 20;

    /// <summary>Connections of sharding's own plugins on PostgreSQL, beside <see cref="DefaultPostgresPoolSize"/>.</summary>
    public const int ShardingPostgresPoolSize = 16;

    private const string ShardingPluginIdentifier = "sharding";

    /// <summary>
    /// The journal and snapshot store sharding's remember-entities stores use: their own plugins on PostgreSQL, the
    /// default ones on SQLite (one file has one writer; a second plugin would only add a second writer to wait for).
    /// </summary>
    public static (string Journal, string Snapshot)? ShardingPlugins(PresencePersistenceOptions options) =>
        options.Provider == PersistenceProvider.PostgreSql
            ? ($"akka.persistence.journal.{ShardingPluginIdentifier}", $"akka.persistence.snapshot-store.{ShardingPluginIdentifier}")
            : null;

    /// <summary>The same database under its own application name and pool (Npgsql keeps one pool per connection string).</summary>
    internal static string PrepareShardingPostgres(string preparedConnectionString) =>
        new Npgsql.NpgsqlConnectionStringBuilder(preparedConnectionString)
        {
            ApplicationName = "presence-sharding",
            MaxPoolSize = ShardingPostgresPoolSize,
        }.ConnectionString;

    /// <summary>
    /// Caps the node's connection pool: Npgsql allows 100 per node by default, so three nodes recovering their users
    /// at once after a crash exhausted PostgreSQL's 100 connections (53300) and lost writes. A queue for one of 20
    /// connections is fast; a refused connection is a failed write.
    /// </summary>
    internal static string PreparePostgres(string connectionString)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Pool Size", StringComparison.OrdinalIgnoreCase) && !connectionString.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase))
            builder.MaxPoolSize = DefaultPostgresPoolSize;
        return builder.ConnectionString;
    }

    /// <summary>What <c>presence.persistence.connectionString</c> names on SQLite: a file path or a full connection string.</summary>
    public static SqliteConnectionStringBuilder SqliteBuilder(string fileOrConnectionString) => fileOrConnectionString.Contains('=')
        ? new SqliteConnectionStringBuilder(fileOrConnectionString)
        : new SqliteConnectionStringBuilder { DataSource = fileOrConnectionString };

    /// <summary>A connection (not yet open) to the journal's database, from the journal's own pool on PostgreSQL.</summary>
    public static System.Data.Common.DbConnection JournalConnection(PresencePersistenceOptions options) => options.Provider == PersistenceProvider.PostgreSql
        ? new Npgsql.NpgsqlConnection(PreparePostgres(options.ConnectionString))
        : new SqliteConnection(SqliteBuilder(options.ConnectionString).ConnectionString);

    /// <summary>Creates the file's folder and switches it to WAL once, so that journal and snapshot writers do not lock each other out.</summary>
    internal static string PrepareSqlite(string fileOrConnectionString)
    {
        var builder = SqliteBuilder(fileOrConnectionString);
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
