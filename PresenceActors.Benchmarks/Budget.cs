using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Graph;
using PresenceActors.Simulators.Graph;
using PresenceActors.UcFrontEnd;

namespace PresenceActors.Benchmarks;

/// <summary>B3 within Graph's presence budget: what one application's UC call starts and ends cost, with the simulator's rate limits on.</summary>
internal sealed record BudgetResult(
    double Multiple,
    int ReportsPerSecond,
    int Seconds,
    long Starts,
    long Ends,
    long SetsSeen,
    long ClearsSeen,
    double SetP50,
    double SetP99,
    double ClearP50,
    double ClearP99,
    long Throttled,
    long Lapsed,
    long Lost,
    double DrainSeconds,
    int Applications = 1);

/// <summary>
/// UC phone calls start and end at a multiple of one application's budget (1,500 presence calls per 30 s: at 1×, 25
/// starts and 25 ends per second), for a while, against the Graph simulator with its rate limits on. Measured: from the
/// UC report to the simulator showing our session (setPresence) and to it showing it gone (clearPresence), the 429s the
/// service received, and sessions that lapsed while their UC call went on. A call that ended before its setPresence could
/// go costs nothing and is seen by neither: the difference between starts and sets seen.
/// </summary>
internal static class Budget
{
    public static async Task<BudgetResult> RunAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, double multiple, int seconds, int applications = 1)
    {
        var reportsPerSecond = (int)Math.Round(multiple * GraphOptions.DefaultPresenceBudget / 30.0);
        var index = users.Select((u, i) => (u.TeamsId, i)).ToDictionary(x => x.TeamsId, x => x.i);
        var onPhone = new bool[users.Count];
        var setAsked = new long?[users.Count];
        var clearAsked = new long?[users.Count];
        var sessionShown = new bool[users.Count];
        var setLatencies = new List<double>();
        var clearLatencies = new List<double>();
        long lapsed = 0, starts = 0, ends = 0;
        var gate = new object();

        void OnChange(PresenceChange change)
        {
            if (!index.TryGetValue(change.UserId, out var i))
                return;
            var now = Stopwatch.GetTimestamp();
            lock (gate)
            {
                if (change.Activity == "InACall")
                {
                    sessionShown[i] = true;
                    if (setAsked[i] is { } asked)
                        setLatencies.Add(Stopwatch.GetElapsedTime(asked, now).TotalMilliseconds);
                    setAsked[i] = null;
                }
                else if (sessionShown[i])
                {
                    sessionShown[i] = false;
                    // A clear asked for is the previous call's, landing after the next call began (the next set follows
                    // it); without one, our session went by itself while the UC call still goes on: a lapse.
                    if (clearAsked[i] is { } asked)
                        clearLatencies.Add(Stopwatch.GetElapsedTime(asked, now).TotalMilliseconds);
                    else if (onPhone[i])
                        lapsed++;
                    clearAsked[i] = null;
                }
            }
        }

        var graphMetrics = rig.Service!.Services.GetRequiredService<GraphMetrics>();
        var throttledBefore = graphMetrics.Throttled;
        rig.Graph.Faults.RateLimitsEnabled = true;
        rig.Graph.Tenant.PresenceChanged += OnChange;
        var reports = new List<Task>();
        await EndToEnd.PaceAsync(reportsPerSecond, seconds, n =>
        {
            var i = (int)(n % users.Count);
            lock (gate)
            {
                onPhone[i] = !onPhone[i];
                if (onPhone[i])
                {
                    starts++;
                    setAsked[i] = Stopwatch.GetTimestamp();
                }
                else
                {
                    ends++;
                    clearAsked[i] = Stopwatch.GetTimestamp();
                }
            }

            lock (reports)
                reports.Add(rig.Uc.SetPhoneAsync(users[i].UcUserId, onPhone[i]));
        });
        await Task.WhenAll(reports);

        // Everyone's last change must show in the end: the calls that waited for the budget drain at its pace.
        var drain = Stopwatch.StartNew();
        bool Settled()
        {
            lock (gate)
                return Enumerable.Range(0, users.Count).All(i => sessionShown[i] == onPhone[i]);
        }

        while (!Settled() && drain.Elapsed < TimeSpan.FromMinutes(10))
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        int lost;
        lock (gate)
            lost = Enumerable.Range(0, users.Count).Count(i => sessionShown[i] != onPhone[i]);
        rig.Graph.Tenant.PresenceChanged -= OnChange;

        // Leave everyone off the phone for the next run.
        await Task.WhenAll(Enumerable.Range(0, users.Count).Where(i => onPhone[i]).Select(i => rig.Uc.SetPhoneAsync(users[i].UcUserId, false)));
        var sets = setLatencies.Order().ToArray();
        var clears = clearLatencies.Order().ToArray();
        Console.Error.WriteLine($"B3 at {multiple}× budget, {applications} application(s): {starts} starts, {ends} ends, {sets.Length} sets and {clears.Length} clears seen, {lost} lost, drained {drain.Elapsed.TotalSeconds:0} s");
        return new BudgetResult(multiple, reportsPerSecond, seconds, starts, ends, sets.Length, clears.Length,
            RecentLatencies.Percentile(sets, 0.5), RecentLatencies.Percentile(sets, 0.99),
            RecentLatencies.Percentile(clears, 0.5), RecentLatencies.Percentile(clears, 0.99),
            graphMetrics.Throttled - throttledBefore, lapsed, lost, drain.Elapsed.TotalSeconds, applications);
    }
}
