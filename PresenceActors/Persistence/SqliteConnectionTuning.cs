using System.Data.Common;
using LinqToDB.Interceptors;

namespace PresenceActors.Persistence;

/// <summary>
/// Runs on every connection the journal and snapshot store open on SQLite (docs/decisions.md, "Cheaper commits"):
/// <c>synchronous=NORMAL</c>, so that a commit is in the WAL file (and survives <c>kill -9</c>) without waiting for the
/// disk, and <c>busy_timeout</c>, so that a writer meeting another (a snapshot, a deletion beside the journal's batch)
/// waits in SQLite's own steps of 1 to 100 ms instead of Microsoft.Data.Sqlite's fixed 150 ms sleep.
/// An asynchronous open first yields the thread (docs/decisions.md, "The journal's transactions on SQLite"):
/// Microsoft.Data.Sqlite's asynchronous calls run synchronously, so the journal's writer ran each transaction inside the
/// stream that queues its writes, and the events that came meanwhile could only join the queue after it: one transaction
/// per event. Yielding lets them gather while a transaction runs, and the next one writes them together.
/// </summary>
public sealed class SqliteConnectionTuning : ConnectionInterceptor
{
    /// <summary>What each connection runs once it is open.</summary>
    public const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";

    public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
    {
        await Task.Yield();
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
