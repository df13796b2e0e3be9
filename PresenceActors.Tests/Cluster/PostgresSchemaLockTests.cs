using LinqToDB;
using LinqToDB.Data;
using LinqToDB.Mapping;
using PresenceActors.Persistence;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// Nodes of a new cluster create the journal's and snapshot store's tables at the same moment
/// (docs/decisions.md, "Creating the tables once"): through the options the plugins use, every creation succeeds.
/// </summary>
public class PostgresSchemaLockTests
{
    [Fact]
    public async Task Six_nodes_creating_the_same_tables_at_once_all_succeed()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        var options = PersistenceSetup.PostgresDataOptions(PersistenceSetup.PreparePostgres(db.ConnectionString));
        for (var round = 0; round < 10; round++)
        {
            var table = $"created_together_{round}";
            using var start = new Barrier(6);
            var creators = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
            {
                await using var connection = new DataConnection(options);
                await connection.ExecuteAsync<int>("SELECT 1"); // connected before the start
                if (!start.SignalAndWait(TimeSpan.FromSeconds(30)))
                    throw new TimeoutException("the creators did not start together");
                // What the journal does at start (Akka.Persistence.Sql's InitializeTables): linq2db's CREATE TABLE IF NOT EXISTS.
                await connection.CreateTableAsync<Row>(table, tableOptions: TableOptions.CreateIfNotExists);
            })).ToList();
            await Task.WhenAll(creators); // an unserialised creation fails here with 23505 on pg_type_typname_nsp_index

            await using var check = new DataConnection(options);
            Assert.Equal(1, await check.ExecuteAsync<int>($"SELECT count(*)::int FROM information_schema.tables WHERE table_name = '{table}'"));
        }
    }

    private sealed class Row
    {
        [PrimaryKey]
        public long Id { get; set; }

        [Column]
        public string? Payload { get; set; }
    }
}
