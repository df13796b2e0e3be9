using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PresenceActors.Cluster;
using PresenceActors.Persistence;
using PresenceActors.Users;

namespace PresenceActors.Tests.Support;

/// <summary>One in-process node with the product's real wiring (cluster, sharding, SQLite persistence) and test ports.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly IHost _host;

    private readonly PresencePersistenceOptions _persistence;

    private TestNode(IHost host, PresencePersistenceOptions persistence) => (_host, _persistence) = (host, persistence);


    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    public IActorRef Users => ActorRegistry.For(System).Get<UserPresenceRegion>();

    /// <summary>The node's journal trim (docs/decisions.md, "Trimming the journal in bulk").</summary>
    public JournalTrim Trim => _host.Services.GetRequiredService<JournalTrim>();

    /// <summary>Another trim of this node's journal, trusting snapshots of at least <paramref name="snapshotAge"/>.</summary>
    public JournalTrim TrimWith(TimeSpan snapshotAge, TimeProvider? clock = null) => new(_persistence with { TrimSnapshotAge = snapshotAge },
        _host.Services.GetRequiredService<ILogger<JournalTrim>>(), _host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), clock);

    /// <summary>Akka's TestKit on this node's actor system (AwaitAssert, probes, ExpectMsg).</summary>
    public Akka.TestKit.Xunit2.TestKit Kit => _kit ??= new Akka.TestKit.Xunit2.TestKit(System);

    private Akka.TestKit.Xunit2.TestKit? _kit;

    /// <param name="capabilities">What the node advertises it understands (default: all of this release's); fewer acts as a node of an earlier release.</param>
    public static async Task<TestNode> StartAsync(string databaseFile, RecordingFrontEnd frontEnd, RecordingTeams teams, UserPresenceOptions? users = null,
        PersistenceProvider provider = PersistenceProvider.Sqlite, IReadOnlyList<string>? capabilities = null, TimeSpan? trimInterval = null,
        TimeSpan? trimSnapshotAge = null)
    {
        var persistence = new PresencePersistenceOptions
        {
            Provider = provider, ConnectionString = databaseFile, TrimInterval = trimInterval ?? PresencePersistenceOptions.DefaultTrimInterval,
        };
        if (trimSnapshotAge is { } age)
            persistence = persistence with { TrimSnapshotAge = age };
        var host = new HostBuilder()
            .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .ConfigureServices(services =>
            {
                services.AddSingleton<IUcFrontEndPort>(frontEnd);
                services.AddSingleton<ITeamsPresencePort>(teams);
                services.AddPresenceNode(new PresenceNodeOptions
                {
                    Cluster = new PresenceClusterOptions { Port = 0, Capabilities = capabilities ?? PresenceActors.Cluster.Capabilities.All },
                    Persistence = persistence,
                    Users = users ?? new UserPresenceOptions(),
                });
            })
            .Build();
        await host.StartAsync();
        return new TestNode(host, persistence);
    }

    public async Task<UserPresenceState> StateOfAsync(string userId) =>
        (await Users.Ask<UserPresenceQueries.UserPresenceView>(new UserPresenceQueries.GetUserPresence(userId), TimeSpan.FromSeconds(15))).State;

    private bool _crashed;

    /// <summary>
    /// A crash, for restart tests that claim crash safety: the actor system ends at once, without coordinated shutdown
    /// (no leaving the cluster, no shard hand-off, nothing flushed on the way out), as after kill -9 of the process.
    /// </summary>
    public async Task CrashAsync()
    {
        _crashed = true;
        ((ExtendedActorSystem)System).Abort();
        await System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_crashed)
            await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>A temporary SQLite file, deleted with its WAL files afterwards.</summary>
internal sealed class TempDatabase : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"presence-test-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(Path + suffix);
    }
}
