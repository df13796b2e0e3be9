using Akka.Actor;
using PresenceActors.Persistence;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Tests.Cluster;

/// <summary>The cluster's journal: the same restarts and the same loop as on SQLite, on PostgreSQL 15 (Akka.Persistence.Sql with Npgsql).</summary>
public class PostgresPersistenceTests
{
    [Fact]
    public async Task Teams_call_and_uc_call_survive_a_crash_on_postgresql()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        var frontEnd = new RecordingFrontEnd();
        var teams = new RecordingTeams();
        var users = new UserPresenceOptions { Rules = PresenceSettings.Default with { SessionTtl = TimeSpan.FromMinutes(5), SessionRefresh = TimeSpan.FromMinutes(4) } };

        await using (var node = await TestNode.StartAsync(db.ConnectionString, frontEnd, teams, users, PersistenceProvider.PostgreSql))
        {
            // The journal and snapshot store create their tables under the cluster-wide lock (PostgresSchemaLock).
            foreach (var plugin in new[] { PersistencePlugins.Journal, PersistencePlugins.SnapshotStore, "akka.persistence.journal.sharding", "akka.persistence.snapshot-store.sharding" })
                PersistencePlugins.InterceptorOf<PostgresSchemaLock>(node.System, plugin);

            node.Users.Tell(new LinkUser("p1", "uc-p1"));
            node.Users.Tell(new ReportUcPresence("p1", "Lunch (custom)", false, DateTimeOffset.UtcNow));
            node.Users.Tell(new ObserveTeamsPresence("p1", "Busy", "InACall", "0001", TeamsPresenceSource.Notification));
            Assert.Equal("Busy", (await frontEnd.NextAsync()).Status.Value);

            node.Users.Tell(new LinkUser("p2", "uc-p2"));
            node.Users.Tell(new ReportUcPresence("p2", "Available", true, DateTimeOffset.UtcNow));
            Assert.Equal("set p2 300s", await teams.NextAsync());
            await node.Kit.AwaitAssertAsync(async () => Assert.NotNull((await node.StateOfAsync("p2")).Session.ExpiresAt), TimeSpan.FromSeconds(10));
            // Sharding's bookkeeping (which shards and users to restart) has plugins and a pool of its own, so that a dead
            // node's shards load without queueing behind the recoveries of the users they restart; the plugins start on
            // first use, and nothing but the shard region uses them.
            Assert.True(await RememberedThroughShardingPoolAsync(db.ConnectionString), "the shards' remembered users were written under the application name presence-sharding");
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.ConnectionString, frontEnd, teams, users, PersistenceProvider.PostgreSql))
        {
            var p1 = await node.StateOfAsync("p1");
            Assert.True(p1.TeamsCallActive);
            Assert.Equal("Lunch (custom)", p1.UcPrior?.Value);
            node.Users.Tell(new ObserveTeamsPresence("p1", "Available", "Available", "0002", TeamsPresenceSource.Notification));
            var restore = await frontEnd.NextAsync();
            Assert.Equal(("Lunch (custom)", UcUpdate.TeamsCallEnded), (restore.Status.Value, restore.Reason));

            Assert.True((await node.StateOfAsync("p2")).UcOnPhone);
            node.Users.Tell(new ReportUcPresence("p2", "Available", false, DateTimeOffset.UtcNow));
            await node.Kit.AwaitAssertAsync(() => Assert.Contains("clear p2", teams.All), TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>The journal holds the shard stores' events and the server saw their writer under sharding's application name.</summary>
    private static async Task<bool> RememberedThroughShardingPoolAsync(string connectionString)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT (SELECT count(*) FROM journal WHERE persistence_id LIKE '/sharding/%Shard/%') > 0 " +
            "AND (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'presence-sharding' AND datname = current_database()) > 0", connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Whole_loop_runs_on_postgresql()
    {
        await using var db = await PostgresDatabase.CreateAsync();
        await using var loop = await Loop.StartAsync(adjust: o => o with
        {
            Node = o.Node with { Persistence = new PresencePersistenceOptions { Provider = PersistenceProvider.PostgreSql, ConnectionString = db.ConnectionString } },
        });
        // After a database outage every plugin, sharding's own too, probes again after 5 s, not Akka's 30 (hocon/cluster.hocon).
        foreach (var plugin in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql", "akka.persistence.journal.sharding", "akka.persistence.snapshot-store.sharding" })
            Assert.Equal(TimeSpan.FromSeconds(5), loop.System.Settings.Config.GetTimeSpan($"{plugin}.circuit-breaker.reset-timeout"));
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, ucStatus: "Meeting", prefix: "pg"))[0];
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "T1 on PostgreSQL");
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Meeting", what: "restore on PostgreSQL");
        using var health = new HttpClient();
        var ready = await health.GetAsync($"http://127.0.0.1:{loop.Ports.Admin}/healthz/ready");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
    }
}
