using System.Diagnostics;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;

namespace PresenceActors.Benchmarks;

internal sealed record FalseDowningResult(double Minutes, int UnreachableMarks, int Downings, int NodesLost, long ChangesOffered);

/// <summary>
/// `--only false-downing`: the price of the short fail-over timings (docs/decisions.md, "Fail-over timings"). Three
/// healthy nodes on PostgreSQL under a steady 50 changes/s while another process keeps one of the machine's cores busy;
/// counts how often a node was marked unreachable and downed. Every one is a false downing: no node is harmed.
/// </summary>
internal static class FalseDowning
{
    public static async Task<FalseDowningResult> RunAsync(TimeSpan duration, int users)
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 1);
        var all = await cluster.AddWatchedUsersAsync(users, "fd");

        var lengths = cluster.OutputLengths();
        // One core kept busy by another process for the whole run: a shell spinning in a loop.
        using var hog = Process.Start(new ProcessStartInfo("sh", ["-c", "while :; do :; done"]))!;
        long offered = 0;
        var inCall = new Dictionary<string, bool>();
        var clock = Stopwatch.StartNew();
        try
        {
            Console.Error.WriteLine($"false-downing: 3 nodes, {users} users, one core busy, {duration.TotalMinutes:0} minutes of calls starting and ending");
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            var n = 0;
            while (clock.Elapsed < duration && await timer.WaitForNextTickAsync())
            {
                // Calls start and end: each reaches UC, so the run also shows that the work went on.
                var u = all[n % all.Count];
                var call = n / all.Count % 2 == 0;
                cluster.Graph.Tenant.SetClient(u.Teams, call ? TeamsClientState.InACall : TeamsClientState.Available);
                inCall[u.Uc] = call;
                n++;
                offered++;
            }
        }
        finally
        {
            hog.Kill();
            await hog.WaitForExitAsync();
        }

        // Nothing was lost on the way: each user's UC status shows its last change.
        await Eventually.TrueAsync(() => inCall.All(c => (cluster.Uc.User(c.Key)!.Status == "Busy") == c.Value), TimeSpan.FromMinutes(2), "every user's last change on UC");
        var story = cluster.MembershipStory(lengths).ToList();
        var nodesLost = cluster.Nodes.Count(node => !node.Running);
        return new FalseDowningResult(clock.Elapsed.TotalMinutes, story.Count(l => l.Contains("Marking node(s) as UNREACHABLE", StringComparison.Ordinal)),
            story.Count(l => l.Contains("SBR took decision", StringComparison.Ordinal)), nodesLost, offered);
    }
}
