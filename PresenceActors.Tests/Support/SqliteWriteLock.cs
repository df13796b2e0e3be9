using Microsoft.Data.Sqlite;

namespace PresenceActors.Tests.Support;

/// <summary>
/// Another writer holding a node's SQLite journal's write lock, as a backup tool or a stray sqlite3 shell would, until
/// disposed (then it rolls back).
/// </summary>
internal sealed class SqliteWriteLock : IAsyncDisposable
{
    private readonly SqliteConnection _connection;

    private SqliteWriteLock(SqliteConnection connection) => _connection = connection;

    public static Task<SqliteWriteLock> TakeAsync(Loop loop)
    {
        var configured = loop.Options.Node.Persistence.ConnectionString;
        return TakeAsync(configured.Contains('=') ? new SqliteConnectionStringBuilder(configured).DataSource : configured);
    }

    /// <summary>Takes the write lock of any SQLite file (the ingress log's, say).</summary>
    public static async Task<SqliteWriteLock> TakeAsync(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE;";
        await begin.ExecuteNonQueryAsync();
        return new SqliteWriteLock(connection);
    }

    public async ValueTask DisposeAsync()
    {
        await using (var rollback = _connection.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK;";
            await rollback.ExecuteNonQueryAsync();
        }

        await _connection.DisposeAsync();
    }
}
