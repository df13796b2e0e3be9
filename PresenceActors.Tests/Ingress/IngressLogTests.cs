using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using PresenceActors.Ingress;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Ingress;

/// <summary>The ingress log on its own (docs/decisions.md, "Persist-first ingress"), on a real SQLite file.</summary>
public sealed class IngressLogTests : IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);
    private readonly string _folder = Directory.CreateTempSubdirectory("ingress-").FullName;

    private string File => Path.Combine(_folder, "presence-ingress.db");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Keeps every entry (as if its actors never confirmed), and says when it has seen each once.</summary>
    private sealed class Keeping(int expected) : IIngressHandler
    {
        public ConcurrentDictionary<string, int> Seen { get; } = new();

        public TaskCompletionSource AllSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<IngressOutcome> HandleAsync(IngressEntry entry, CancellationToken cancellationToken)
        {
            Seen.AddOrUpdate(entry.Body, 1, (_, n) => n + 1);
            if (Seen.Count >= expected)
                AllSeen.TrySetResult();
            return Task.FromResult(new IngressOutcome(entry.Body, entry.Items, "not-confirmed"));
        }
    }

    /// <summary>Finishes every entry at once.</summary>
    private sealed class Finishing : IIngressHandler
    {
        public ConcurrentQueue<IngressEntry> Done { get; } = new();

        public Task<IngressOutcome> HandleAsync(IngressEntry entry, CancellationToken cancellationToken)
        {
            Done.Enqueue(entry);
            return Task.FromResult(IngressOutcome.Done);
        }
    }

    /// <summary>A store whose commits wait until the test opens the gate (a slow disk), or fail (a broken one).</summary>
    private sealed class GatedStore(IIngressStore inner) : IIngressStore
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Broken { get; set; }

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public async Task<IReadOnlyList<(long Id, DateTimeOffset ReceivedAt)>> FlushAsync(IReadOnlyList<IngressAppend> appends, IReadOnlyCollection<long> completed,
            IReadOnlyList<IngressRewrite> rewrites, CancellationToken cancellationToken)
        {
            if (Broken)
                throw new IOException("disk I/O error");
            await Gate.Task.WaitAsync(cancellationToken);
            return await inner.FlushAsync(appends, completed, rewrites, cancellationToken);
        }

        public Task RenewAsync(CancellationToken cancellationToken) => inner.RenewAsync(cancellationToken);

        public Task<IReadOnlyList<IngressEntry>> ClaimAsync(bool own, int limit, CancellationToken cancellationToken) => inner.ClaimAsync(own, limit, cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken) => inner.CountAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private static IngressLog Log(IIngressStore store, IIngressHandler handler, IngressOptions? options = null) =>
        new(store, handler, options ?? new IngressOptions { AppendTimeout = TimeSpan.FromSeconds(10), Workers = 2 }, NullLogger<IngressLog>.Instance, new OwnMeters());

    [Fact]
    public async Task Entries_a_previous_run_left_unfinished_are_processed_when_the_log_starts_again()
    {
        var keeping = new Keeping(3);
        await using (var first = Log(new SqliteIngressStore(File), keeping))
        {
            await first.StartAsync(CancellationToken.None);
            foreach (var body in new[] { "a", "b", "c" })
                Assert.Equal(AppendResult.Committed, await first.AppendAsync(new IngressAppend(IngressKind.Notifications, body, 1), CancellationToken.None));
            await keeping.AllSeen.Task.WaitAsync(Within);
            Assert.Equal(3, first.Backlog);
        }

        var finishing = new Finishing();
        await using var second = Log(new SqliteIngressStore(File), finishing);
        await second.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => finishing.Done.Count == 3, Within, "the three entries processed by the next run");
        Assert.Equal(["a", "b", "c"], finishing.Done.Select(e => e.Body).Order());
        await Eventually.TrueAsync(async () => await second.CountAsync(CancellationToken.None) == 0, Within, "and removed from the file");
        Assert.Equal(0, second.Backlog);
    }

    [Fact]
    public async Task Requests_arriving_during_a_commit_share_the_next_one()
    {
        var store = new GatedStore(new SqliteIngressStore(File));
        // Entries are kept (never confirmed), so that only the appends commit while the test counts.
        var keeping = new Keeping(50);
        await using var log = Log(store, keeping);
        await log.StartAsync(CancellationToken.None);
        var appends = Enumerable.Range(0, 50).Select(i => log.AppendAsync(new IngressAppend(IngressKind.Notifications, $"r{i}", 2), CancellationToken.None)).ToList();
        Assert.All(appends, a => Assert.False(a.IsCompleted)); // nothing is answered before it is committed
        store.Gate.SetResult();

        Assert.All(await Task.WhenAll(appends), r => Assert.Equal(AppendResult.Committed, r));
        Assert.Equal(100, log.Appended);
        // 50 requests in at most 2 transactions (the first may have taken some before the others queued).
        Assert.InRange(log.Commits, 1, 2);
        await keeping.AllSeen.Task.WaitAsync(Within); // every entry processed after the answer
    }

    [Fact]
    public async Task A_full_backlog_and_a_failing_disk_are_answered_at_once_and_counted()
    {
        var store = new GatedStore(new SqliteIngressStore(File));
        store.Gate.SetResult();
        var keeping = new Keeping(2);
        await using var log = Log(store, keeping, new IngressOptions { MaxBacklog = 5, AppendTimeout = TimeSpan.FromSeconds(10), Workers = 2 });
        await log.StartAsync(CancellationToken.None);
        Assert.Equal(AppendResult.Committed, await log.AppendAsync(new IngressAppend(IngressKind.Notifications, "x", 3), CancellationToken.None));
        Assert.Equal(AppendResult.Committed, await log.AppendAsync(new IngressAppend(IngressKind.Notifications, "y", 2), CancellationToken.None));
        await keeping.AllSeen.Task.WaitAsync(Within);

        // Five items wait: the next request is refused without touching the disk.
        Assert.Equal(AppendResult.Full, await log.AppendAsync(new IngressAppend(IngressKind.Notifications, "z", 1), CancellationToken.None));
        Assert.Equal(1, log.Refused);

        // A request larger than the whole bound is still taken when nothing else waits (or it never could be).
        var empty = new GatedStore(new SqliteIngressStore(Path.Combine(_folder, "other.db")));
        empty.Gate.SetResult();
        await using (var other = Log(empty, new Finishing(), new IngressOptions { MaxBacklog = 5, AppendTimeout = TimeSpan.FromSeconds(10), Workers = 2 }))
        {
            await other.StartAsync(CancellationToken.None);
            Assert.Equal(AppendResult.Committed, await other.AppendAsync(new IngressAppend(IngressKind.Notifications, "big", 8), CancellationToken.None));
        }

        // A disk that fails its commits: answered Unwritable (503), counted, and holding no room afterwards.
        var broken = new GatedStore(new SqliteIngressStore(Path.Combine(_folder, "broken.db"))) { Broken = true };
        await using var failing = Log(broken, new Finishing());
        await failing.StartAsync(CancellationToken.None);
        Assert.Equal(AppendResult.Unwritable, await failing.AppendAsync(new IngressAppend(IngressKind.Notifications, "lost?", 4), CancellationToken.None));
        Assert.Equal(4, failing.Refused);
        Assert.Equal(0, failing.Backlog);
        Assert.Equal(0, failing.Appended);
    }
}
