using Npgsql;
using NpgsqlTypes;

namespace PresenceActors.Ingress;

/// <summary>
/// The cluster's ingress log in the shared PostgreSQL database: each entry belongs to the node that wrote it (its
/// address), and each node renews one row saying it is alive for <paramref name="lease"/> (one write a second, however
/// long its backlog). The entries of a node that stopped renewing are taken over by whichever surviving node claims them
/// first (FOR UPDATE SKIP LOCKED: never two at once); a node that comes back on the same address takes its own back at
/// once. Lease times come from the database's clock, so the nodes' clocks need not agree.
/// </summary>
public sealed class PostgresIngressStore(NpgsqlDataSource database, string owner, TimeSpan lease) : IIngressStore
{
    private const string Table = "presence_ingress";
    private const string Owners = "presence_ingress_owners";

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"""
            CREATE TABLE IF NOT EXISTS {Table} (
              id bigserial PRIMARY KEY,
              owner text NOT NULL,
              kind smallint NOT NULL,
              body text NOT NULL,
              items integer NOT NULL,
              attempts integer NOT NULL DEFAULT 0,
              received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
              trace text NULL);
            CREATE INDEX IF NOT EXISTS {Table}_owner ON {Table} (owner);
            CREATE TABLE IF NOT EXISTS {Owners} (
              owner text PRIMARY KEY,
              alive_until timestamptz NOT NULL);
            """);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
        {
            // Another node created it at the same moment.
        }

        // Alive before the first entry is written: an entry whose owner has no live row is anyone's to take.
        await RenewAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<(long Id, DateTimeOffset ReceivedAt)>> FlushAsync(IReadOnlyList<IngressAppend> appends, IReadOnlyCollection<long> completed,
        IReadOnlyList<IngressRewrite> rewrites, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var append in appends)
        {
            batch.BatchCommands.Add(Batched($"INSERT INTO {Table} (owner, kind, body, items, trace) VALUES ($1, $2, $3, $4, $5) RETURNING id, received_at",
                new NpgsqlParameter { Value = owner }, new NpgsqlParameter { Value = (short)append.Kind },
                new NpgsqlParameter { Value = append.Body }, new NpgsqlParameter { Value = append.Items },
                new NpgsqlParameter { Value = (object?)append.TraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text }));
        }

        if (completed.Count > 0)
            batch.BatchCommands.Add(Batched($"DELETE FROM {Table} WHERE id = ANY($1)", new NpgsqlParameter { Value = completed.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint }));
        foreach (var rewrite in rewrites)
        {
            batch.BatchCommands.Add(Batched($"UPDATE {Table} SET body = $1, items = $2, attempts = $3 WHERE id = $4 AND owner = $5",
                new NpgsqlParameter { Value = rewrite.Body }, new NpgsqlParameter { Value = rewrite.Items }, new NpgsqlParameter { Value = rewrite.Attempts },
                new NpgsqlParameter { Value = rewrite.Id }, new NpgsqlParameter { Value = owner }));
        }

        var ids = new List<(long, DateTimeOffset)>(appends.Count);
        if (batch.BatchCommands.Count > 0)
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            for (var i = 0; i < appends.Count; i++)
            {
                await reader.ReadAsync(cancellationToken);
                ids.Add((reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1)));
                await reader.NextResultAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return ids;
    }

    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"""
            INSERT INTO {Owners} (owner, alive_until) VALUES ($1, clock_timestamp() + $2)
            ON CONFLICT (owner) DO UPDATE SET alive_until = EXCLUDED.alive_until
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = owner });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<IngressEntry>> ClaimAsync(bool own, int limit, CancellationToken cancellationToken)
    {
        // Own entries need no check: nobody else takes them while this node renews. Another node's are taken only when
        // its row says it is no longer alive.
        var which = own
            ? "owner = $1"
            : $"owner <> $1 AND NOT EXISTS (SELECT 1 FROM {Owners} o WHERE o.owner = {Table}.owner AND o.alive_until > clock_timestamp())";
        await using var command = database.CreateCommand($"""
            UPDATE {Table} SET owner = $1
            WHERE id IN (SELECT id FROM {Table} WHERE {which} ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING id, kind, body, items, attempts, received_at, trace
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = owner });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<IngressEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new IngressEntry(reader.GetInt64(0), (IngressKind)reader.GetInt16(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return entries.OrderBy(e => e.Id).ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"SELECT COUNT(*) FROM {Table}");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the data source is the caller's

    private static NpgsqlBatchCommand Batched(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }
}
