namespace PresenceActors.Persistence;

public enum PersistenceProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>Where journals and snapshots live: a SQLite file for one node, PostgreSQL for a cluster.</summary>
public sealed record PresencePersistenceOptions
{
    public PersistenceProvider Provider { get; init; } = PersistenceProvider.Sqlite;

    /// <summary>For SQLite: a file path or a full connection string. For PostgreSQL: an Npgsql connection string.</summary>
    public string ConnectionString { get; init; } = "data/presence.db";

    /// <summary>How often the users' events that their snapshots hold are removed from the journal (<see cref="JournalTrim"/>).</summary>
    public TimeSpan TrimInterval { get; init; } = DefaultTrimInterval;

    public static readonly TimeSpan DefaultTrimInterval = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How old a snapshot must be before the trim removes the events it holds: longer than Akka's snapshot timeout (20 s)
    /// plus the deletion it sends after a save it reports failed, which SQLite lets wait for its lock up to 30 s.
    /// </summary>
    public TimeSpan TrimSnapshotAge { get; init; } = TimeSpan.FromMinutes(5);
}
