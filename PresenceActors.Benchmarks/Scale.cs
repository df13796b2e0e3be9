using System.Diagnostics;
using PresenceActors.Subscriptions;

namespace PresenceActors.Benchmarks;

/// <param name="HeapBytes">The managed heap after settling, when the service runs in this process; 0 in a process of its own.</param>
/// <param name="CpuSeconds">The service process's CPU time from the full list's PUT until all were watched (0 in this process).</param>
internal sealed record ScaleResult(int Users, int Accounts, double RegisterSeconds, double AllWatchedSeconds, long RssBytes, long HeapBytes,
    double BytesPerIdleUser, long JournalBytes, int SubscriptionsWhenWatched, int SubscriptionsSettled, double SettledSeconds,
    bool SeparateProcess = false, int WarmUpUsers = 0, long RssBeforeBytes = 0, double CpuSeconds = 0);

internal sealed record RecoveryResult(int Users, double ReadySeconds, double AllWatchedSeconds, IReadOnlyDictionary<string, int> GraphCallsDuringStart,
    int BulkReadsAllowed, int SubscriptionsAllowed);

internal sealed record EconomyResult(int Users, int Accounts, double SteadySeconds, int SteadyCalls, double OursPerThousandPerHour,
    double PollingPerThousandPerHour, string Model);

/// <summary>B4 (scale on one node), B5 (restart with the users persisted) and B6 (Graph call economy).</summary>
internal static class Scale
{
    /// <summary>Users registered and watched before B4 measures, so that the service's code is warm (a process of its own only).</summary>
    public const int WarmUpUsers = 1_000;

    public static async Task<ScaleResult> ScaleAsync(Rig rig, int users)
    {
        var service = rig.Process;
        var warm = 0;
        if (service is not null)
        {
            // Warm-up: 1,000 other users registered and watched first (the JIT, the pools, the first subscriptions);
            // the measured list adds the 100,000 to them.
            warm = rig.CreateUsers(WarmUpUsers, "warm").Count;
            await rig.RegisterAllAsync();
            await rig.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(5));
            await SettleAsync();
        }

        rig.CreateUsers(users, "scale");
        var heapBefore = service is null ? SettledHeap() : 0;
        var rssBefore = service?.Rss() ?? 0;
        var cpuBefore = service?.Cpu() ?? TimeSpan.Zero;
        var watch = Stopwatch.StartNew();
        var count = await rig.RegisterAllAsync();
        var registered = watch.Elapsed;
        if (count != users + warm)
            throw new InvalidOperationException($"{count} of {users + warm} users registered.");
        await rig.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(20));
        var allWatched = watch.Elapsed;
        var cpu = (service?.Cpu() ?? TimeSpan.Zero) - cpuBefore;
        var subscriptionsWhenWatched = rig.Subscriptions();
        // Settled: one subscription per account (the replaced ones deleted), or as many as remain after two minutes.
        var accounts = (int)Math.Ceiling((users + warm) / 650.0);
        using (var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(200)))
        {
            while (rig.Subscriptions() > accounts && watch.Elapsed - allWatched < TimeSpan.FromMinutes(2))
                await poll.WaitForNextTickAsync();
        }

        var settled = watch.Elapsed;

        if (service is not null)
        {
            // A process of its own: its RSS once it has been quiet for a while (its GC runs on its own schedule).
            await SettleAsync();
            var rss = service.Rss();
            return new ScaleResult(users, rig.Accounts, registered.TotalSeconds, allWatched.TotalSeconds, rss, 0, (rss - rssBefore) / (double)users,
                service.JournalBytes, subscriptionsWhenWatched, rig.Subscriptions(), settled.TotalSeconds, true, warm, rssBefore, cpu.TotalSeconds);
        }

        // Settle: the users' actors passivate when idle (nothing to hold them); then measure.
        var heapAfter = SettledHeap();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var journal = new DirectoryInfo(Path.GetDirectoryName(rig.DatabaseFile)!).GetFiles("presence.db*").Sum(f => f.Length);
        return new ScaleResult(users, accounts, registered.TotalSeconds, allWatched.TotalSeconds, process.WorkingSet64, heapAfter,
            (heapAfter - heapBefore) / (double)users, journal, subscriptionsWhenWatched, rig.Subscriptions(), settled.TotalSeconds);
    }

    public static async Task<RecoveryResult> RestartAsync(Rig rig)
    {
        await rig.StopServiceAsync();
        var since = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        await rig.StartServiceAsync(); // a process of its own: started once its readiness check answers
        if (rig.Process is null)
            await WaitReadyAsync(rig, TimeSpan.FromMinutes(10));
        var ready = watch.Elapsed;
        // Everyone is still watched by the subscriptions that survived the restart; give the pool time to verify them.
        await rig.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(10));
        var watched = watch.Elapsed;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 15; i++)
            await timer.WaitForNextTickAsync(); // what the first 15 s after readiness cost as well
        var calls = rig.Graph.Faults.Calls.Where(c => c.At >= since).GroupBy(c => c.Api).ToDictionary(g => g.Key, g => g.Count());
        var accounts = (int)Math.Ceiling(rig.Users.Count / 650.0);
        return new RecoveryResult(rig.Users.Count, ready.TotalSeconds, watched.TotalSeconds, calls, accounts, accounts);
    }

    public static async Task<EconomyResult> EconomyAsync(Rig rig, int steadySeconds)
    {
        var since = DateTimeOffset.UtcNow;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var i = 0; i < steadySeconds; i++)
            await timer.WaitForNextTickAsync();
        var steady = rig.Graph.Faults.Calls.Count(c => c.At >= since);

        // The schedule per technical account (650 users): renew every lifetime - renewBefore, reconcile every
        // ReconcileEvery (one GET of the subscription and one bulk read of its users), a delegated token about hourly.
        var pool = new SubscriptionPoolOptions
        {
            NotificationUrl = new Uri("https://x/"), LifecycleNotificationUrl = new Uri("https://x/"), Encryption = () => (rig.Encryption, "x"),
            ClientState = new ClientStateSigner(new byte[32]),
        };
        var renewals = 60 / (pool.SubscriptionLifetime - pool.RenewBefore).TotalMinutes;
        var reconciles = 60 / pool.ReconcileEvery.TotalMinutes * 2;
        const double tokens = 1;
        var perAccountHour = renewals + reconciles + tokens;
        var steadyPerHour = steady / (double)steadySeconds * 3600;
        var accounts = rig.Users.Count / 650.0;
        var ours = (perAccountHour * accounts + steadyPerHour) * 1000 / rig.Users.Count;
        // A poller reads every user every 10 s with getPresencesByUserId (650 ids per call) under one app token.
        var polling = 360 * Math.Ceiling(1000 / 650.0) + 1;
        var model = $"per account and hour: {renewals:0.#} renewals + {reconciles:0.#} reconciliation calls + {tokens} token; " +
                    $"steady state measured {steady} calls in {steadySeconds} s with no presence changes";
        return new EconomyResult(rig.Users.Count, (int)Math.Ceiling(accounts), steadySeconds, steady, ours, polling, model);
    }

    private static async Task WaitReadyAsync(Rig rig, TimeSpan limit)
    {
        var admin = rig.Service!.Services.GetRequiredService<PresenceActors.Host.ListenerPorts>().Admin;
        using var http = new HttpClient();
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (watch.Elapsed < limit)
        {
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{admin}/healthz/ready")).IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }

            await timer.WaitForNextTickAsync();
        }

        throw new TimeoutException($"Not ready after {limit}.");
    }

    private static async Task SettleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 30; i++)
            await timer.WaitForNextTickAsync();
    }

    private static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
