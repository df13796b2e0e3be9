using System.Collections.Concurrent;
using System.Diagnostics;
using PresenceActors.Simulators.Graph;
using PresenceActors.UcFrontEnd;
using PresenceActors.Simulators.Uc;

namespace PresenceActors.Benchmarks;

/// <summary>Latency figures of one paced run: percentiles in milliseconds, and what never arrived.</summary>
internal sealed record LatencyResult(string Name, int TargetRate, double AchievedRate, int Seconds, long Sent, long Measured, long Coalesced, long Lost,
    double P50, double P99, double P999, double Max)
{
    /// <summary>How long after the load stopped the far side showed every user's last change (or the drain gave up).</summary>
    public double DrainSeconds { get; init; }

    /// <summary>B3 only: report sent until the internal API answered, as the UC back end sees it (its connection pool included).</summary>
    public double AnsweredP50 { get; init; }

    public double AnsweredP99 { get; init; }
}

/// <summary>
/// B2: a Teams change made in the Graph simulator until the UC simulator's front end has the update. B3: a UC phone call
/// reported on the internal API until the Graph simulator has the setPresence (or clearPresence).
/// Each user toggles between "in a call" and not, so every change is a real state change with exactly one expected effect.
/// </summary>
internal static class EndToEnd
{
    /// <summary>Changes per user are spaced by users/rate seconds; a later change of the same user supersedes an earlier one
    /// that is still waiting (the emitter sends only the newest per user), which is counted as coalesced, not lost.</summary>
    private sealed class Tracker
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<(string Expected, long Ticks)>> _pending = new();
        private readonly ConcurrentBag<double> _latencies = [];
        private long _coalesced;

        /// <summary>The last expected outcome per key: what the far side must show once everything has drained.</summary>
        public ConcurrentDictionary<string, string> Final { get; } = new();

        public void Expect(string key, string expected)
        {
            Final[key] = expected;
            _pending.GetOrAdd(key, _ => new ConcurrentQueue<(string, long)>()).Enqueue((expected, Stopwatch.GetTimestamp()));
        }

        public void Arrived(string key, string status)
        {
            if (!_pending.TryGetValue(key, out var queue))
                return;
            // The newest waiting expectation with this status is the one satisfied; older ones were superseded.
            var snapshot = queue.ToArray();
            var match = Array.FindLastIndex(snapshot, e => e.Expected == status);
            if (match < 0)
                return;
            for (var i = 0; i <= match; i++)
            {
                if (!queue.TryDequeue(out var entry))
                    return;
                if (i < match)
                    Interlocked.Increment(ref _coalesced);
                else
                    _latencies.Add(Stopwatch.GetElapsedTime(entry.Ticks).TotalMilliseconds);
            }
        }

        public long Waiting => _pending.Values.Sum(q => (long)q.Count);

        public (long Measured, long Coalesced, double P50, double P99, double P999, double Max) Summary()
        {
            var sorted = _latencies.ToArray();
            Array.Sort(sorted);
            return (sorted.Length, Interlocked.Read(ref _coalesced), RecentLatencies.Percentile(sorted, 0.5), RecentLatencies.Percentile(sorted, 0.99), RecentLatencies.Percentile(sorted, 0.999),
                sorted.Length == 0 ? double.NaN : sorted[^1]);
        }
    }

    public static async Task<LatencyResult> TeamsToUcAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int rate, int seconds)
    {
        var tracker = new Tracker();
        long received = 0;
        void OnUpdate(ReceivedUpdate update)
        {
            Interlocked.Increment(ref received);
            if (update.Applied)
                tracker.Arrived(update.UcUserId, update.Status);
        }

        rig.Uc.UpdateReceived += OnUpdate;
        var inCall = new bool[users.Count];
        var sent = await PaceAsync(rate, seconds, n =>
        {
            var i = (int)(n % users.Count);
            inCall[i] = !inCall[i];
            tracker.Expect(users[i].UcUserId, inCall[i] ? "Busy" : "Available");
            rig.Graph.Tenant.SetClient(users[i].TeamsId, inCall[i] ? TeamsClientState.InACall : TeamsClientState.Available);
        });
        var achieved = sent / (double)seconds;
        var (lost, drain) = await DrainAsync(tracker, key => rig.Uc.User(key)!.Status);
        rig.Uc.UpdateReceived -= OnUpdate;
        if (lost > 0)
            await DiagnoseAsync(rig, tracker, users.ToDictionary(u => u.UcUserId, u => u.TeamsId), key => rig.Uc.User(key)!.Status);
        // Leave everyone out of a call for the next run.
        for (var i = 0; i < inCall.Length; i++)
        {
            if (inCall[i])
                rig.Graph.Tenant.SetClient(users[i].TeamsId, TeamsClientState.Available);
        }

        var s = tracker.Summary();
        Console.Error.WriteLine($"B2 at {rate}/s: {sent} changes, {Interlocked.Read(ref received)} UC updates received, {s.Measured} matched");
        return new LatencyResult($"B2 Teams → UC at {rate}/s", rate, achieved, seconds, sent, s.Measured, s.Coalesced, lost, s.P50, s.P99, s.P999, s.Max) { DrainSeconds = drain };
    }

    public static async Task<LatencyResult> UcToTeamsAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int rate, int seconds)
    {
        var tracker = new Tracker();
        void OnChange(PresenceChange change) => tracker.Arrived(change.UserId, change.Activity == "InACall" ? "set" : "cleared");

        rig.Graph.Tenant.PresenceChanged += OnChange;
        var onPhone = new bool[users.Count];
        var reports = new List<Task>();
        var answered = new ConcurrentBag<double>(); // report sent until the internal API answered: where the time goes
        async Task Report(string ucUserId, bool phone)
        {
            var started = Stopwatch.GetTimestamp();
            await rig.Uc.SetPhoneAsync(ucUserId, phone); // the UC back end sends again what the bridge did not take
            answered.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        var sent = await PaceAsync(rate, seconds, n =>
        {
            var i = (int)(n % users.Count);
            onPhone[i] = !onPhone[i];
            tracker.Expect(users[i].TeamsId, onPhone[i] ? "set" : "cleared");
            lock (reports)
                reports.Add(Report(users[i].UcUserId, onPhone[i]));
        });
        var achieved = sent / (double)seconds;
        await Task.WhenAll(reports);
        var apiTimes = answered.Order().ToArray();
        Console.Error.WriteLine($"B3 at {rate}/s: {sent} reports, {rig.Uc.ReportRetries} sent again by the UC back end so far");
        var (lost, drain) = await DrainAsync(tracker, key => rig.Graph.Tenant.GetPresence(key).Activity == "InACall" ? "set" : "cleared");
        rig.Graph.Tenant.PresenceChanged -= OnChange;
        if (lost > 0)
            await DiagnoseAsync(rig, tracker, users.ToDictionary(u => u.TeamsId, u => u.TeamsId),
                key => rig.Graph.Tenant.GetPresence(key).Activity == "InACall" ? "set" : "cleared");
        for (var i = 0; i < onPhone.Length; i++)
        {
            if (onPhone[i])
                await rig.Uc.SetPhoneAsync(users[i].UcUserId, false);
        }

        var s = tracker.Summary();
        return new LatencyResult($"B3 UC → Teams at {rate}/s", rate, achieved, seconds, sent, s.Measured, s.Coalesced, lost, s.P50, s.P99, s.P999, s.Max)
        {
            DrainSeconds = drain, AnsweredP50 = RecentLatencies.Percentile(apiTimes, 0.5), AnsweredP99 = RecentLatencies.Percentile(apiTimes, 0.99),
        };
    }

    /// <summary>Where a loss happened: the simulator's delivery counters and, for a few users, both sides and the bridge's state.</summary>
    private static async Task DiagnoseAsync(Rig rig, Tracker tracker, Dictionary<string, string> teamsIdOf, Func<string, string> shown)
    {
        var d = rig.Graph.Delivery;
        Console.Error.WriteLine($"  delivery: {d.Delivered} delivered, {d.FailedAttempts} failed attempts, {d.Abandoned} abandoned, {d.DroppedByFault} dropped by fault");
        foreach (var (key, expected) in tracker.Final.Where(f => shown(f.Key) != f.Value).Take(5))
        {
            var teamsId = teamsIdOf[key];
            var graph = rig.Graph.Tenant.GetPresence(teamsId);
            string bridge;
            try
            {
                bridge = await rig.DescribeUserAsync(teamsId);
            }
            catch (Exception e)
            {
                bridge = $"(no answer: {e.GetType().Name})";
            }

            Console.Error.WriteLine($"  {key}: expected {expected}, shown {shown(key)}; Graph {graph.Availability}/{graph.Activity}; bridge {bridge}");
        }
    }

    /// <summary>Calls <paramref name="act"/> <paramref name="rate"/> times a second for <paramref name="seconds"/>, in 10 ms steps.</summary>
    internal static async Task<long> PaceAsync(int rate, int seconds, Action<long> act)
    {
        var clock = Stopwatch.StartNew();
        long issued = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            while (issued < due)
                act(issued++);
            await timer.WaitForNextTickAsync();
        }

        return issued;
    }

    /// <summary>
    /// Gives what is still in flight up to 10 minutes to arrive (past saturation the backlog, and Graph's redelivery of
    /// what the webhook refused, take a while), then counts the keys whose far side does not show the last expected
    /// outcome: those are lost (a superseded intermediate change is not; the bridge forwards the newest).
    /// </summary>
    private static async Task<(long Lost, double Seconds)> DrainAsync(Tracker tracker, Func<string, string> shown)
    {
        long Wrong() => tracker.Final.Count(f => shown(f.Key) != f.Value);
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (Wrong() > 0 && watch.Elapsed < TimeSpan.FromMinutes(10))
            await timer.WaitForNextTickAsync();
        return (Wrong(), watch.Elapsed.TotalSeconds);
    }
}
