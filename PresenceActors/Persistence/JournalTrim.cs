using System.Data.Common;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PresenceActors.Persistence;

/// <summary>
/// Removes the users' events that their latest snapshot already holds, in bulk and in the journal's own order
/// (docs/decisions.md, "Trimming the journal in bulk"). A user's actor deleting its own events after each snapshot
/// rewrote, for every deleted event, the page it shared with other users' events, twice (Akka.Persistence.Sql marks
/// them deleted, then deletes them) and each index page that held it: as many page writes as the events cost when
/// written. Here a round walks the journal from its oldest row in windows of <see cref="Window"/> rows, one statement
/// each, and deletes a window's rows of users whose snapshot is newer; the rows left hold what the newest snapshot does
/// not, and each user's newest event. Only a snapshot older than <see cref="PresencePersistenceOptions.TrimSnapshotAge"/>
/// counts: a save that Akka reports failed after its timeout is deleted again, and may have been committed meanwhile.
/// A round covers the rows there were when it began, so that a steady load cannot keep it going.
/// </summary>
public sealed class JournalTrim : BackgroundService
{
    /// <summary>Rows of the journal one statement looks at.</summary>
    public const int Window = 5_000;

    /// <summary>The users' persistence ids (<c>UserPresenceActor.PersistenceIdFor</c>), in LIKE's terms.</summary>
    private const string UserEvents = "user-presence-%";

    /// <summary>Between two windows: the journal's writer (one on SQLite) takes its turn.</summary>
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(50);

    private const string Newest = "SELECT MAX(ordering) FROM journal";

    private const string NextWindow = "SELECT MAX(ordering) FROM (SELECT ordering FROM journal WHERE ordering > @low AND ordering <= @last ORDER BY ordering LIMIT @rows) w";

    private const string DeleteCovered = $"""
        DELETE FROM journal WHERE ordering IN (
          SELECT j.ordering FROM journal j
          WHERE j.ordering > @low AND j.ordering <= @high AND j.persistence_id LIKE '{UserEvents}'
            AND EXISTS (SELECT 1 FROM snapshot s WHERE s.persistence_id = j.persistence_id AND s.sequence_number > j.sequence_number AND s.created <= @settled))
        """;

    private readonly PresencePersistenceOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly Counter<long> _trimmedCounter;
    private long _trimmed;
    private long _rounds;

    public JournalTrim(PresencePersistenceOptions options, ILogger<JournalTrim> log, IMeterFactory meters, TimeProvider? clock = null)
    {
        (_options, _log, _clock) = (options, log, clock ?? TimeProvider.System);
        _trimmedCounter = meters.Create(PresenceMetrics.MeterName)
            .CreateCounter<long>("presence.journal.trimmed", description: "Users' journal events removed because a newer snapshot holds them");
    }

    /// <summary>Events removed so far.</summary>
    public long Trimmed => Interlocked.Read(ref _trimmed);

    /// <summary>Rounds finished so far (with or without anything to remove).</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.TrimInterval, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await TrimOnceAsync(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // Housekeeping: whatever stopped this round, the node goes on and the next round tries again.
                    _log.LogWarning("journal-trim-failed: {Message}; the next round in {Interval} tries again", e.Message.Split('\n')[0], _options.TrimInterval);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One round over the whole journal; the events it removed (0 when another node holds the round on PostgreSQL).</summary>
    public async Task<long> TrimOnceAsync(CancellationToken cancellationToken)
    {
        var started = _clock.GetTimestamp();
        await using var connection = PersistenceSetup.JournalConnection(_options);
        await connection.OpenAsync(cancellationToken);
        var postgres = connection is NpgsqlConnection;
        if (!postgres)
            await ExecuteAsync(connection, SqliteConnectionTuning.Pragmas, cancellationToken);
        // On PostgreSQL one node at a time walks the journal; the others skip their round.
        if (postgres && !(bool)(await ScalarAsync(connection, $"SELECT pg_try_advisory_lock({TrimLockKey})", cancellationToken))!)
            return 0;
        try
        {
            long removed = 0, low = long.MinValue;
            var last = await ScalarAsync(connection, Newest, cancellationToken) as long? ?? long.MinValue;
            // Akka.Persistence.Sql keeps a snapshot's time in UTC ticks on SQLite and PostgreSQL.
            var settled = _clock.GetUtcNow().UtcDateTime.Ticks - _options.TrimSnapshotAge.Ticks;
            while (await ScalarAsync(connection, NextWindow, cancellationToken, ("@low", low), ("@last", last), ("@rows", Window)) is long high)
            {
                var count = await ExecuteAsync(connection, DeleteCovered, cancellationToken, ("@low", low), ("@high", high), ("@settled", settled));
                removed += count;
                Interlocked.Add(ref _trimmed, count);
                _trimmedCounter.Add(count);
                low = high;
                await Task.Delay(Pause, _clock, cancellationToken);
            }

            Interlocked.Increment(ref _rounds);
            if (removed > 0)
                _log.LogInformation("journal-trimmed events={Events} seconds={Seconds:0.0}: users' events older than their snapshots", removed,
                    _clock.GetElapsedTime(started).TotalSeconds);
            return removed;
        }
        finally
        {
            if (postgres)
                await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({TrimLockKey})", CancellationToken.None);
        }
    }

    /// <summary>The advisory lock a trimming round holds on PostgreSQL (beside <see cref="PostgresSchemaLock.LockKey"/>).</summary>
    public const long TrimLockKey = PostgresSchemaLock.LockKey + 1;

    private static async Task<object?> ScalarAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, long Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    private static async Task<int> ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, long Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, long Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 60;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            (parameter.ParameterName, parameter.Value) = (name, value);
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
