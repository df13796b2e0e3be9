using Microsoft.Data.Sqlite;
using PresenceActors.Persistence;

namespace PresenceActors.Ingress;

/// <summary>
/// The ingress log of a single node: its own SQLite file beside the journal, so that the journal's writers never hold
/// up the webhook's commit (and the other way round). WAL with synchronous=NORMAL: a commit is in the file once the
/// call returns and survives the process being killed; a power loss can cost the last commits (docs/reliability.md,
/// "Commits and power loss").
/// </summary>
public sealed class SqliteIngressStore : IIngressStore
{
    private const string Table = "presence_ingress";
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _clock;

    public SqliteIngressStore(string path, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
            Directory.CreateDirectory(folder);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 5 }.ConnectionString);
    }

    /// <summary>The ingress file that belongs to a SQLite journal (a file path or a connection string).</summary>
    public static string PathBeside(string journalFileOrConnectionString)
    {
        var journal = PersistenceSetup.SqliteBuilder(journalFileOrConnectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(journal)) ?? ".";
        return Path.Combine(folder, Path.GetFileNameWithoutExtension(journal) + "-ingress.db");
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _connection.OpenAsync(cancellationToken);
        await ExecuteAsync($"""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS {Table} (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              kind INTEGER NOT NULL,
              body TEXT NOT NULL,
              items INTEGER NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0,
              received_at INTEGER NOT NULL,
              trace TEXT NULL);
            """, cancellationToken);
    }

    public async Task<IReadOnlyList<(long Id, DateTimeOffset ReceivedAt)>> FlushAsync(IReadOnlyList<IngressAppend> appends, IReadOnlyCollection<long> completed,
        IReadOnlyList<IngressRewrite> rewrites, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var transaction = (SqliteTransaction)await _connection.BeginTransactionAsync(cancellationToken);
            var ids = new List<(long, DateTimeOffset)>(appends.Count);
            var now = _clock.GetUtcNow();
            if (appends.Count > 0)
            {
                await using var insert = Command($"INSERT INTO {Table} (kind, body, items, received_at, trace) VALUES ($kind, $body, $items, $at, $trace) RETURNING id", transaction);
                var kind = insert.Parameters.Add("$kind", SqliteType.Integer);
                var body = insert.Parameters.Add("$body", SqliteType.Text);
                var items = insert.Parameters.Add("$items", SqliteType.Integer);
                var trace = insert.Parameters.Add("$trace", SqliteType.Text);
                insert.Parameters.AddWithValue("$at", now.ToUnixTimeMilliseconds());
                foreach (var append in appends)
                {
                    (kind.Value, body.Value, items.Value, trace.Value) = ((int)append.Kind, append.Body, append.Items, (object?)append.TraceParent ?? DBNull.Value);
                    ids.Add(((long)(await insert.ExecuteScalarAsync(cancellationToken))!, now));
                }
            }

            if (completed.Count > 0)
            {
                await using var delete = Command($"DELETE FROM {Table} WHERE id = $id", transaction);
                var id = delete.Parameters.Add("$id", SqliteType.Integer);
                foreach (var done in completed)
                {
                    id.Value = done;
                    await delete.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            if (rewrites.Count > 0)
            {
                await using var update = Command($"UPDATE {Table} SET body = $body, items = $items, attempts = $attempts WHERE id = $id", transaction);
                var (id, body, items, attempts) = (update.Parameters.Add("$id", SqliteType.Integer), update.Parameters.Add("$body", SqliteType.Text),
                    update.Parameters.Add("$items", SqliteType.Integer), update.Parameters.Add("$attempts", SqliteType.Integer));
                foreach (var rewrite in rewrites)
                {
                    (id.Value, body.Value, items.Value, attempts.Value) = (rewrite.Id, rewrite.Body, rewrite.Items, rewrite.Attempts);
                    await update.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            await transaction.CommitAsync(cancellationToken);
            return ids;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>One node owns the file: nothing to renew.</summary>
    public Task RenewAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Everything in the file is this node's, left by its previous run; no other node ever writes it.</summary>
    public async Task<IReadOnlyList<IngressEntry>> ClaimAsync(bool own, int limit, CancellationToken cancellationToken)
    {
        if (!own)
            return [];
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var select = Command($"SELECT id, kind, body, items, attempts, received_at, trace FROM {Table} ORDER BY id LIMIT $limit", null);
            select.Parameters.AddWithValue("$limit", limit);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            var entries = new List<IngressEntry>();
            while (await reader.ReadAsync(cancellationToken))
            {
                entries.Add(new IngressEntry(reader.GetInt64(0), (IngressKind)reader.GetInt32(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
            }

            return entries;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var count = Command($"SELECT COUNT(*) FROM {Table}", null);
            return (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _gate.Dispose();
    }

    private SqliteCommand Command(string sql, SqliteTransaction? transaction)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, null);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
