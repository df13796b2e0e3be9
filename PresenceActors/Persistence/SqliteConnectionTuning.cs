using System.Data.Common;
using LinqToDB.Interceptors;

namespace PresenceActors.Persistence;

/// <summary>
/// Runs on every connection the journal and snapshot store open on SQLite (docs/decisions.md, "Cheaper commits"):
/// <c>synchronous=NORMAL</c>, so that a commit is in the WAL file (and survives <c>kill -9</c>) without waiting for the
/// disk, and <c>busy_timeout</c>, so that a writer meeting another (a snapshot, a deletion beside the journal's batch)
/// waits in SQLite's own steps of 1 to 100 ms instead of Microsoft.Data.Sqlite's fixed 150 ms sleep.
/// For the journal (<paramref name="yieldOnOpen"/>) an asynchronous open first yields the thread (docs/decisions.md,
/// "The journal's transactions on SQLite"): Microsoft.Data.Sqlite's asynchronous calls run synchronously, so the
/// journal's writer ran each transaction inside the stream that queues its writes, and the events that came meanwhile
/// could only join the queue after it: one transaction per event. Yielding lets them gather while a transaction runs, and
/// the next one writes them together. The snapshot store does not yield: its saves stay one at a time, as its actor
/// calls them, instead of many pool threads waiting for SQLite's one write lock together.
/// </summary>
public sealed class SqliteConnectionTuning(bool yieldOnOpen) : ConnectionInterceptor
{
    private long _opened;

    /// <summary>Whether an asynchronous open yields the thread before its pragmas (the journal's connections).</summary>
    public bool YieldsOnOpen => yieldOnOpen;

    /// <summary>Connections opened through this interceptor: for the journal, one per transaction or read.</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>What each connection runs once it is open.</summary>
    public const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";

    public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection)
    {
        Interlocked.Increment(ref _opened);
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _opened);
        if (yieldOnOpen)
            await Task.Yield();
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
