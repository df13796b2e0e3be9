using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PresenceActors.Benchmarks;

// The figures of docs/benchmarks.md, measured side by side in one run (the machine is shared and noisy).
// Usage: dotnet run -c Release --project PresenceActors.Benchmarks -- [--quick] [--only B1,B2,...,failover] [--seconds N]
//        [--connections N] [--users N] [--out FOLDER] [--generator wrk|built-in]
//   --quick      B1 and B2 only, short runs (under a minute); the last two lines are the B1 ratio and the B2 p99.
//   B1-answers   only B1's 202 latencies at 1,000 and 3,000 items/s (60 s each), without the comparison with bare
//                Kestrel and the sustained search.
//   B3-budget    only B3 within Graph's budget (rate limits on, 1× and 2× one application's budget, and 2× on two applications; --budget-seconds N, 120).
//   failover     three nodes on PostgreSQL (as the cluster tests run them), kill -9 of the singletons' node and of a
//                shard node under 100 changes/s; not in the default set (it needs initdb or PRESENCE_TEST_POSTGRES).
//   false-downing  three healthy nodes for --minutes N (10) with one core kept busy by another process: downings counted.
//   --generator  B1's load: wrk when it is installed (apt-get install wrk), the built-in generator otherwise.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var quick = args.Contains("--quick");
var only = Option("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase)
           ?? (quick ? ["B1", "B2"] : ["B1", "B2", "B3", "B4", "B5", "B6"]);
var seconds = IntOption("--seconds", quick ? 4 : 60);
var connections = IntOption("--connections", 32);
var scaleUsers = IntOption("--users", 100_000);
var output = Option("--out") ?? "benchmark-results";
var generatorOption = Option("--generator");
var wrk = generatorOption == "built-in" ? null : Wrk.Find();
if (generatorOption is not (null or "wrk" or "built-in") || (generatorOption == "wrk" && wrk is null))
{
    Console.Error.WriteLine(generatorOption == "wrk"
        ? "--generator wrk: wrk is not on the PATH (apt-get install wrk), or use --generator built-in"
        : $"--generator: '{generatorOption}' is neither 'wrk' nor 'built-in'");
    return 2;
}
var report = new Dictionary<string, object>
{
    ["machine"] = $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB",
    ["startedAt"] = DateTimeOffset.UtcNow,
    ["command"] = "dotnet run -c Release --project PresenceActors.Benchmarks -- " + string.Join(' ', args),
};
double? b1Ratio = null;
double? b1Sustained = null;
var table = new List<(string Id, string Figure, string Measured, string Target, string Verdict)>();

if (only.Overlaps(["B1", "B1-answers", "B2", "B3"]))
{
    // 1,000 users on two technical accounts: enough that each user changes at most once a second at 1,000/s.
    // Separate users for B1 (its synthetic notifications carry sequence numbers that would make real ones look stale).
    var users = quick ? 200 : 2_000;
    await using var rig = await Rig.StartAsync(accounts: (int)Math.Ceiling((users + 200) / 650.0), rateLimits: false);
    var ingestUsers = rig.CreateUsers(200, "ingest");
    var e2eUsers = rig.CreateUsers(users, "e2e");
    await rig.RegisterAsync();
    var watchedAfter = await rig.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(5));
    Console.Error.WriteLine($"{users} users registered and watched ({watchedAfter.TotalSeconds:0.0} s after registration)");

    if (only.Overlaps(["B1", "B1-answers"]))
    {
        // B1-answers: only the 202 latencies (a), without the comparison with bare Kestrel and the sustained search.
        var full = only.Contains("B1");
        if (full)
        {
            var generator = wrk is null
                ? "built-in (HttpClient, HTTP/1.1 over TLS, same process)"
                : $"{Wrk.Version(wrk)} (2 threads, HTTP/1.1 over TLS, separate process)";
            Console.Error.WriteLine($"B1 load generator: {generator}");
            var b1 = await Ingest.RunAsync(rig, ingestUsers, quick ? 3 : 20, connections, wrk);
            var ratio1 = b1[1].RequestsPerSecond / b1[0].RequestsPerSecond;
            var ratio10 = b1[3].RequestsPerSecond / b1[2].RequestsPerSecond;
            b1Ratio = ratio1;
            report["B1"] = new { generator, connections, runs = b1, ratio1, ratio10 };
            table.Add(("B1", $"`/graph/listen` ÷ bare Kestrel, requests/s, 1 item per POST ({generator}, {connections} connections)",
                $"**{ratio1:0.00}** ({b1[1].RequestsPerSecond:N0} vs {b1[0].RequestsPerSecond:N0} req/s{Repeats(b1[1])})", "≥ 0.6", ratio1 >= 0.6 ? "met" : "missed"));
            table.Add(("B1", "`/graph/listen` ÷ bare Kestrel, 10 items per POST",
                $"**{ratio10:0.00}** ({b1[3].RequestsPerSecond:N0} vs {b1[2].RequestsPerSecond:N0} req/s; {b1[3].ItemsPerSecond:N0} notifications/s{Repeats(b1[3])})", "—", ""));
        }

        var rsa = Ingest.RsaDecryptMicroseconds();
        report["B1.rsa"] = new { microsecondsPerDecrypt = rsa, perCorePerSecond = 1e6 / rsa };
        table.Add(("B1", "where the time goes: RSA-OAEP-2048 decryption of one item's data key (every rich notification has its own)", $"{rsa:0} µs per item = at most {1e6 / rsa:N0} items/s per core", "—", ""));

        // The persist-first webhook: answers at an offered rate (Graph sends whatever we answer), and what the actors
        // confirm at saturation against the machine's RSA ceiling, in the same run.
        var sequence = new SequenceBox(5_000_000_000L);
        var answered = new List<AnswerLatency>();
        foreach (var rate in new[] { 1_000, 3_000 })
        {
            Console.Error.WriteLine($"B1: {rate:N0} items/s offered for {(quick ? 5 : 60)} s");
            var at = await IngestFlow.AtRateAsync(rig, ingestUsers, rate, quick ? 5 : 60, sequence);
            answered.Add(at);
            Console.Error.WriteLine($"B1: {rate:N0} items/s: 202 p50 / p99 / max {at.P50:0.0} / {at.P99:0.0} / {at.Max:0} ms, {at.Refused:N0} answered 503");
        }

        report["B1.answers"] = answered;
        foreach (var a in answered)
        {
            table.Add(("B1", $"`/graph/listen` 202 latency at {a.OfferedItemsPerSecond:N0} items/s offered (10 items per POST) for {a.Seconds} s: p50 / p99 / max ms",
                $"**{a.P50:0.0} / {a.P99:0.0} / {a.Max:0}** ({a.Accepted:N0} items answered 202, {a.Refused:N0} 503, {a.Errors} errors; the backlog drained {a.DrainSeconds:0.0} s after the load stopped)",
                a.OfferedItemsPerSecond == 1_000 ? "p99 ≤ 20 ms, max ≤ 500 ms" : "—",
                a.OfferedItemsPerSecond != 1_000 ? "" : a.P99 <= 20 && a.Max <= 500 ? "met" : "missed"));
        }

        if (full)
        {
            var sustained = await IngestFlow.SustainedAsync(rig, ingestUsers, quick ? 5 : 30, rsa, sequence);
            report["B1.sustained"] = sustained;
            var tried = string.Join(", ", sustained.Tries.Select(t => $"{t.Offered:N0}/s {(t.KeptUp ? "kept up" : $"fell behind (backlog {t.BacklogAtStart:N0} → {t.BacklogAtEnd:N0}, {t.Refused:N0} refused)")}"));
            table.Add(("B1", $"sustained: items acknowledged and confirmed by the actors per second, offered open-loop for {(quick ? 5 : 30)} s with a backlog that does not grow, ÷ RSA ceiling ({Environment.ProcessorCount} cores × 1 / {rsa:0} µs = {sustained.RsaCeiling:N0}/s)",
                $"**{sustained.Ratio:0.00}** ({sustained.ConfirmedPerSecond:N0} confirmed/s; a backlog drained at {sustained.DrainPerSecond:N0}/s with no load; tried {tried})",
                "≥ 0.5", sustained.Ratio >= 0.5 ? "met" : "missed"));
            b1Sustained = sustained.Ratio;
        }
    }

    await WriteResultsAsync();
    if (only.Contains("B3"))
    {
        // 500/s is the figure asked for; 250/s shows where the shared 2 cores bend. Before B2: B2 past saturation leaves
        // the UC back end retrying refused echo reports for minutes, which would be measured here.
        var b3 = new List<LatencyResult>();
        foreach (var rate in quick ? new[] { 250 } : [250, 500])
            b3.Add(await EndToEnd.UcToTeamsAsync(rig, e2eUsers, rate, seconds));
        report["B3"] = b3;
        foreach (var r in b3)
        {
            table.Add(("B3", $"UC → Teams at {r.TargetRate}/s for {r.Seconds} s (achieved {r.AchievedRate:N0}/s): p50 / p99 ms",
                $"**{r.P50:0.0} / {r.P99:0.0}** (p99.9 {r.P999:0.0}, max {r.Max:0}; {r.Measured:N0} measured, {r.Coalesced:N0} coalesced, **{r.Lost} lost**; " +
                $"all arrived {r.DrainSeconds:0} s after the load stopped; the internal API answered the UC back end in p50 {r.AnsweredP50:0.0} / p99 {r.AnsweredP99:0.0} ms)",
                "0 lost", r.Lost == 0 ? "met" : "missed"));
        }
    }

    await WriteResultsAsync();
    if (only.Contains("B2"))
    {
        var rates = quick ? new[] { 1_000 } : [250, 1_000, 5_000];
        var b2 = new List<LatencyResult>();
        foreach (var rate in rates)
            b2.Add(await EndToEnd.TeamsToUcAsync(rig, e2eUsers, rate, quick ? 5 : seconds));
        report["B2"] = b2;
        foreach (var r in b2)
        {
            table.Add(("B2", $"Teams → UC at {r.TargetRate:N0}/s for {r.Seconds} s (achieved {r.AchievedRate:N0}/s): p50 / p99 / p99.9 ms",
                $"**{r.P50:0.0} / {r.P99:0.0} / {r.P999:0.0}** (max {r.Max:0}; {r.Measured:N0} measured, {r.Coalesced:N0} coalesced, **{r.Lost} lost**; all arrived {r.DrainSeconds:0} s after the load stopped)",
                r.TargetRate == 1_000 ? "p99 ≤ 10 ms, 0 lost" : "0 lost",
                r.Lost == 0 && (r.TargetRate != 1_000 || r.P99 <= 10) ? "met" : "missed"));
        }
    }
}

if (only.Overlaps(["B3", "B3-budget"]) && !quick)
{
    // Within Graph's budget: the simulator's rate limits on and the service's governor at the default budget, on a rig
    // of its own. 1,000 users: at 1× each one's call starts or ends every 20 s.
    var budgetSeconds = IntOption("--budget-seconds", 120);
    var rig = await Rig.StartAsync(accounts: 2, rateLimits: true);
    var callers = rig.CreateUsers(1_000, "budget");
    await rig.RegisterAsync();
    await rig.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(5));
    var budget = new List<BudgetResult>();
    foreach (var multiple in new[] { 1.0, 2.0 })
        budget.Add(await Budget.RunAsync(rig, callers, multiple, budgetSeconds));
    await rig.DisposeAsync();

    // The same 2× load with two applications (each with its own budget at Graph and in the service), on a rig of its own.
    await using var twoApplications = await Rig.StartAsync(accounts: 2, rateLimits: true, applications: 2);
    var twoCallers = twoApplications.CreateUsers(1_000, "budget2");
    await twoApplications.RegisterAsync();
    await twoApplications.WaitUntilAllWatchedAsync(TimeSpan.FromMinutes(5));
    budget.Add(await Budget.RunAsync(twoApplications, twoCallers, 2.0, budgetSeconds, applications: 2));
    report["B3.budget"] = budget;
    foreach (var r in budget)
    {
        table.Add(("B3", $"UC call starts and ends at {r.Multiple:0}× one application's budget ({r.ReportsPerSecond}/s) for {r.Seconds} s with {r.Applications} application(s), Graph's rate limits on: setPresence p50 / p99, clearPresence p50 / p99 ms",
            $"**{r.SetP50:0} / {r.SetP99:0}, {r.ClearP50:0} / {r.ClearP99:0}** ({r.Starts:N0} starts, {r.Ends:N0} ends; {r.SetsSeen:N0} sets and {r.ClearsSeen:N0} clears reached Graph, the rest ended before their set went and cost nothing; " +
            $"**{r.Throttled} 429s**, **{r.Lapsed} sessions lapsed** during their call, {r.Lost} lost; drained {r.DrainSeconds:0} s after the load stopped)",
            r.Multiple <= r.Applications ? "0 429s, 0 lapsed, 0 lost" : "no 429 storm, 0 lapsed, 0 lost",
            r.Lapsed == 0 && r.Lost == 0 && (r.Multiple <= r.Applications ? r.Throttled == 0 : r.Throttled < 10) ? "met" : "missed"));
    }

    var twice = budget.Single(r => r.Multiple == 2 && r.Applications == 1);
    Console.WriteLine($"B3 clears p99 at 2x budget: {twice.ClearP99:0} ms, 429s: {twice.Throttled}");
    await WriteResultsAsync();
}

if (only.Overlaps(["B4", "B5", "B6"]))
{
    // The service in a process of its own (the simulators and the generator stay here), warmed up with 1,000 users.
    var accounts = (int)Math.Ceiling((scaleUsers + Scale.WarmUpUsers) / 650.0);
    await using var rig = await Rig.StartAsync(accounts, rateLimits: true, separateProcess: true);
    var b4 = await Scale.ScaleAsync(rig, scaleUsers);
    report["B4"] = b4;
    table.Add(("B4", $"{b4.Users:N0} users on {b4.Accounts} accounts (after a warm-up of {b4.WarmUpUsers:N0} other users), one node on SQLite in a process of its own, rate limits on, registered with one full list (PUT /api/v1/users): registered / all watched", $"**{b4.RegisterSeconds:0} s / {b4.AllWatchedSeconds:0} s** ({b4.CpuSeconds:0} s of the service's CPU)", "all watched ≤ 120 s", b4.AllWatchedSeconds <= 120 ? "met" : "missed"));
    table.Add(("B4", "RSS of the service process after settling (before the list)", $"**{b4.RssBytes / 1e6:N0} MB** ({b4.RssBeforeBytes / 1e6:N0} MB)", "≤ 1,000 MB", b4.RssBytes <= 1_000_000_000 ? "met" : "missed"));
    table.Add(("B4", "bytes per idle user (RSS growth ÷ users) / journal on disk", $"**{b4.BytesPerIdleUser:N0} B** / {b4.JournalBytes / 1e6:N1} MB", "—", ""));
    table.Add(("B4", "subscriptions at Graph when all were watched / settled (replaced ones deleted), and when", $"**{b4.SubscriptionsWhenWatched:N0}** / {b4.SubscriptionsSettled:N0} at {b4.SettledSeconds:0} s", $"{b4.Accounts} (one per account)", b4.SubscriptionsSettled <= b4.Accounts ? "met" : "missed"));
    Console.WriteLine($"B4 {b4.Users} users watched in {b4.AllWatchedSeconds:0} s, RSS {b4.RssBytes / 1e6:0} MB");

    if (only.Contains("B6"))
    {
        var b6 = await Scale.EconomyAsync(rig, quick ? 10 : 60);
        report["B6"] = b6;
        table.Add(("B6", "Graph calls per 1,000 watched users per hour, steady state: ours vs polling every 10 s", $"**{b6.OursPerThousandPerHour:0.#}** vs {b6.PollingPerThousandPerHour:N0} ({b6.PollingPerThousandPerHour / b6.OursPerThousandPerHour:0}× fewer)", "—", ""));
    }

    if (only.Contains("B5"))
    {
        var b5 = await Scale.RestartAsync(rig);
        report["B5"] = b5;
        var bulkReads = b5.GraphCallsDuringStart.GetValueOrDefault("presence.getByUserId");
        var created = b5.GraphCallsDuringStart.GetValueOrDefault("subscriptions.create");
        table.Add(("B5", $"restart with {b5.Users:N0} persisted users: ready / all watched", $"**{b5.ReadySeconds:0.0} s** / {b5.AllWatchedSeconds:0.0} s", "ready ≤ 30 s", b5.ReadySeconds <= 30 ? "met" : "missed"));
        table.Add(("B5", "Graph calls during start (bulk reads; subscriptions created)", $"**{bulkReads}** (≤ {b5.BulkReadsAllowed}); **{created}** (≤ {b5.SubscriptionsAllowed}); all: {string.Join(", ", b5.GraphCallsDuringStart.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}",
            "≤ 1 bulk read / 650 users, ≤ 1 subscription / account", bulkReads <= b5.BulkReadsAllowed && created <= b5.SubscriptionsAllowed ? "met" : "missed"));
    }
}

FailoverResult? failover = null;
if (only.Contains("failover"))
{
    failover = await Failover.RunAsync(quick ? 300 : 1_000);
    report["failover"] = failover;
    foreach (var kill in new[] { failover.Singleton, failover.Shard })
    {
        table.Add(("failover", $"3 nodes on PostgreSQL, 100 changes/s: kill -9 of {kill.Victim} → first change of one of its users on UC (all {kill.Affected})",
            $"**{kill.FirstSeconds:0.0} s** ({kill.AllSeconds:0.0} s)", "≤ 10 s", kill.FirstSeconds <= 10 ? "met" : "missed"));
    }

    table.Add(("failover", $"webhook during the run ({failover.ChangesOffered:N0} changes offered): deliveries answered 503 / longest answer / answers Graph counts as slow",
        $"**{failover.Refused503}** / {failover.LongestAnswerSeconds:0.00} s / **{failover.SlowAnswers}**", "0 answers over 2.9 s", failover.SlowAnswers == 0 ? "met" : "missed"));
}

if (only.Contains("million"))
{
    var users = IntOption("--million-users", 1_000_000);
    var million = await Million.RunAsync(users);
    report["million"] = million;
    table.Add(("million", $"{million.Users:N0} users, 3 nodes on PostgreSQL, {million.Accounts:N0} technical accounts, one full list (sent {million.PutAttempts} times), kill -9 of {million.Killed} at {million.KilledAtSeconds:0} s: list answered / all watched",
        $"**{million.RegisteredSeconds:0} s / {million.AllWatchedSeconds:0} s**", "—", ""));
    table.Add(("million", "RSS per node after settling / PostgreSQL database", $"**{string.Join(" / ", million.RssMegabytes.Select(r => $"{r:N0} MB"))}** / {million.PostgresBytes / 1e6:N0} MB", "≤ 4 GB per node", million.RssMegabytes.All(r => r <= 4_000) ? "met" : "missed"));
    table.Add(("million", "nothing lost: subscriptions at Graph / users watched by more than one", $"**{million.Subscriptions:N0}** / {million.WatchedTwice}", $"{million.Accounts:N0} / 0", million.Subscriptions <= million.Accounts && million.WatchedTwice == 0 ? "met" : "missed"));
    Console.WriteLine($"million: {million.Users} users on 3 nodes watched in {million.AllWatchedSeconds:0} s, RSS {string.Join("/", million.RssMegabytes.Select(r => $"{r:0}"))} MB, PostgreSQL {million.PostgresBytes / 1e6:0} MB");
}

if (only.Contains("false-downing"))
{
    var minutes = IntOption("--minutes", 10);
    var downing = await FalseDowning.RunAsync(TimeSpan.FromMinutes(minutes), 300);
    report["false-downing"] = downing;
    table.Add(("false-downing", $"3 healthy nodes, one of the 2 cores kept busy by another process, {downing.ChangesOffered:N0} calls started and ended over {downing.Minutes:0.0} min: nodes marked unreachable / downed / lost",
        $"**{downing.UnreachableMarks} / {downing.Downings} / {downing.NodesLost}** (every call's last state on UC)", "0 downed", downing.Downings == 0 && downing.NodesLost == 0 ? "met" : "missed"));
    Console.WriteLine($"false downings: {downing.Downings} in {downing.Minutes:0.0} min with one core busy ({downing.UnreachableMarks} unreachable marks, {downing.NodesLost} nodes lost)");
}

await WriteResultsAsync();
var markdown = Markdown();
Console.WriteLine();
Console.WriteLine(markdown);
Console.WriteLine($"JSON: {Path.GetFullPath(Path.Combine(output, "results.json"))}");
if (b1Ratio is { } measuredRatio)
    Console.WriteLine($"B1 ratio (1 item/POST): {measuredRatio:0.000} (target 0.6)");
if (failover is { } f)
{
    Console.WriteLine($"fail-over: singleton node {f.Singleton.FirstSeconds:0.0} s, shard node {f.Shard.FirstSeconds:0.0} s (target 10 s); " +
                      $"{f.Refused503} deliveries answered 503, longest webhook answer {f.LongestAnswerSeconds:0.00} s, {f.SlowAnswers} over 2.9 s");
}

if (b1Sustained is { } sustainedRatio)
    Console.WriteLine($"B1 sustained ÷ RSA ceiling: {sustainedRatio:0.00} (target 0.5)");
if (report.TryGetValue("B2", out var b2Report) && b2Report is List<LatencyResult> { Count: > 0 } b2Runs)
{
    var at1000 = b2Runs.FirstOrDefault(r => r.TargetRate == 1_000) ?? b2Runs[0];
    Console.WriteLine($"B2 p99 at {at1000.TargetRate}/s: {at1000.P99:0.0} ms (target 10 ms at 1000/s), {at1000.Lost} lost");
}
return 0;

// Written after each benchmark as well, so that a run that dies late keeps what it measured.
async Task WriteResultsAsync()
{
    Directory.CreateDirectory(output);
    var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
    await File.WriteAllTextAsync(Path.Combine(output, "results.json"), json);
    await File.WriteAllTextAsync(Path.Combine(output, "results.md"), Markdown());
}

string Markdown()
{
    var markdown = new StringBuilder()
        .AppendLine($"Run {report["startedAt"]:u} on {report["machine"]}: `{report["command"]}`")
        .AppendLine()
        .AppendLine("| # | Figure | Measured | Target | |")
        .AppendLine("| --- | --- | --- | --- | --- |");
    foreach (var row in table)
        markdown.AppendLine($"| {row.Id} | {row.Figure} | {row.Measured} | {row.Target} | {row.Verdict} |");
    return markdown.ToString();
}

// A generator that ran out of distinct bodies sent repeats, which the webhook drops cheaply: say so beside the figure.
static string Repeats(IngestResult run) => run.Repeated > 0 ? $"; {run.Repeated:N0} repeated items dropped" : "";

string? Option(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int IntOption(string name, int fallback) =>
    int.TryParse(Option(name), out var v) && v > 0 ? v : fallback;
