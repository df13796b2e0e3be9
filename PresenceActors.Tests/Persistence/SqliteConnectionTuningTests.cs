using LinqToDB.Interceptors;
using Microsoft.Data.Sqlite;
using PresenceActors.Persistence;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Persistence;

/// <summary>What every journal and snapshot connection on SQLite goes through (docs/decisions.md, "Cheaper commits").</summary>
public class SqliteConnectionTuningTests
{
    [Fact]
    public async Task An_asynchronous_open_yields_before_its_pragmas_so_that_the_journal_can_gather_writes()
    {
        using var db = new TempDatabase();
        await using var connection = new SqliteConnection($"Data Source={db.Path}");
        await connection.OpenAsync();
        var tuning = new SqliteConnectionTuning();

        // SQLite's asynchronous calls complete synchronously; this one gives the caller's thread back before its work, which
        // then continues from the caller's queue (docs/decisions.md, "The journal's transactions on SQLite").
        var queue = new QueueContext();
        var previous = SynchronizationContext.Current;
        Task opened;
        SynchronizationContext.SetSynchronizationContext(queue);
        try
        {
            opened = tuning.ConnectionOpenedAsync(default(ConnectionEventData), connection, CancellationToken.None);
            Assert.False(opened.IsCompleted);
            Assert.Equal(0L, await PragmaAsync(connection, "busy_timeout")); // nothing ran yet
            Assert.True(queue.RunQueued() > 0);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        await opened.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1L, await PragmaAsync(connection, "synchronous")); // NORMAL
        Assert.Equal(30_000L, await PragmaAsync(connection, "busy_timeout"));
    }

    [Fact]
    public async Task A_synchronous_open_gets_the_same_pragmas()
    {
        using var db = new TempDatabase();
        await using var connection = new SqliteConnection($"Data Source={db.Path}");
        connection.Open();

        new SqliteConnectionTuning().ConnectionOpened(default(ConnectionEventData), connection);

        Assert.Equal(1L, await PragmaAsync(connection, "synchronous"));
        Assert.Equal(30_000L, await PragmaAsync(connection, "busy_timeout"));
    }

    /// <summary>Keeps what is posted to it until <see cref="RunQueued"/> runs it on the calling thread.</summary>
    private sealed class QueueContext : SynchronizationContext
    {
        private readonly Queue<(SendOrPostCallback Callback, object? State)> _posted = new();

        public override void Post(SendOrPostCallback d, object? state) => _posted.Enqueue((d, state));

        public int RunQueued()
        {
            var ran = 0;
            while (_posted.TryDequeue(out var next))
            {
                next.Callback(next.State);
                ran++;
            }

            return ran;
        }
    }

    private static async Task<long> PragmaAsync(SqliteConnection connection, string pragma)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma}";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
