using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// The service as a person starts it, in its own process: Ctrl+C (SIGINT) stops the sandbox and SIGTERM (what systemd
/// and Docker send) stops a node, each within 5 s with exit code 0. Alone: the 5 s are the bound, not a margin
/// for other tests' load.
/// </summary>
[Collection(Alone.Name)]
public class ProcessSignalTests
{
    private const int SigInt = 2;
    private const int SigTerm = 15;

    [Fact]
    public async Task Sandbox_stops_on_ctrl_c_within_five_seconds_with_a_quiet_console_and_no_dead_letters()
    {
        var first = TestPorts.Block(8);
        var data = Directory.CreateTempSubdirectory("presence-sandbox-signal-").FullName;
        var output = new StringBuilder();
        var banner = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = Path.Combine(AppContext.BaseDirectory, "PresenceActors.Host.dll");
        // A terminal's Ctrl+C reaches a process whose SIGINT is not ignored; a test host started in the background may have
        // it ignored, which a child inherits, so the child starts with SIGINT at its default (perl is part of every Debian).
        var start = new ProcessStartInfo("perl", ["-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die $!", "dotnet", host,
            "sandbox", "--users", "2", "--data", data, "--ports-from", first.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_gcServer"] = "0";
        using var process = Process.Start(start)!;
        void Collect(string? line)
        {
            if (line is null)
                return;
            lock (output)
                output.AppendLine(line);
            if (line.Contains("PresenceActors sandbox is running", StringComparison.Ordinal))
                banner.TrySetResult();
        }

        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Console()
        {
            lock (output)
                return output.ToString();
        }

        try
        {
            try
            {
                var came = await Task.WhenAny(banner.Task, process.WaitForExitAsync()).WaitAsync(TimeSpan.FromSeconds(90));
                if (came != banner.Task)
                    throw new InvalidOperationException($"The sandbox exited with code {process.ExitCode} before its banner. Its console:\n{Console()}");
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"The sandbox printed no banner within 90 s. Its console:\n{Console()}");
            }

            var ports = PresenceActors.Host.Sandbox.SandboxMode.PortsFrom(first);
            using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });

            // A Teams call and a UC call, both ways and back: the console shows each decision.
            var upn = "alex@contoso.com";
            await PostAsync(http, $"https://127.0.0.1:{ports.Graph}/_sim/users/{upn}/teams-call", """{"active":true}""");
            await Eventually.TrueAsync(() => Console().Contains("rule=T1", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "T1 on the console", Console);
            await PostAsync(http, $"https://127.0.0.1:{ports.Graph}/_sim/users/{upn}/teams-call", """{"active":false}""");
            await Eventually.TrueAsync(() => Console().Contains("rule=T2", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "T2 on the console", Console);
            await PostAsync(http, $"https://127.0.0.1:{ports.UcControl}/_uc/users/uc-blair/call", """{"active":true}""");
            await Eventually.TrueAsync(() => Console().Contains("user=uc-blair", StringComparison.Ordinal) && Console().Contains("rule=U1", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), "U1 on the console", Console);
            await PostAsync(http, $"https://127.0.0.1:{ports.UcControl}/_uc/users/uc-blair/call", """{"active":false}""");
            await Eventually.TrueAsync(() => Console().Contains("rule=U2", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "U2 on the console", Console);

            // Every message of that reached an actor: the node counted no dead letter (the series exists only after one).
            var metrics = await http.GetStringAsync($"http://127.0.0.1:{ports.Admin}/metrics");
            Assert.Contains("presence_uc_updates_sent_total", metrics);
            var deadLetters = metrics.Split('\n').Where(l => l.StartsWith("presence_dead_letters_total", StringComparison.Ordinal)).ToList();
            Assert.True(deadLetters.Count == 0, "dead letters:\n" + string.Join("\n", deadLetters));

            // The status page is open: its live feed (a request that lasts) must not hold up the stop.
            using var feed = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            using var open = await feed.GetAsync($"http://127.0.0.1:{ports.Admin}/admin/status/feed", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(System.Net.HttpStatusCode.OK, open.StatusCode);
            var stream = await open.Content.ReadAsStreamAsync();
            Assert.True(await stream.ReadAsync(new byte[16]) > 0, "the feed answered");

            var clock = Stopwatch.StartNew();
            Assert.Equal(0, kill(process.Id, SigInt));
            await WaitForExitAsync(process, TimeSpan.FromSeconds(5), Console);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode} after Ctrl+C ({clock.ElapsedMilliseconds} ms)\n{Console()}");

            // The console, start to exit: no log line before the banner (Akka's start-up story is there with --verbose),
            // and after it the sync decisions and nothing below warning level, also while stopping (a Graph call cut
            // short by the stop may warn, as it should).
            var (beforeBanner, afterBanner) = Split(Console(), "Each sync decision is logged below");
            Assert.False(beforeBanner.Contains("info:", StringComparison.Ordinal) || beforeBanner.Contains("warn:", StringComparison.Ordinal), beforeBanner);
            var others = afterBanner.Split('\n').Skip(1).Select(l => l.TrimEnd())
                .Where(l => l.Length > 0 && !l.Contains(" sync-decision user=", StringComparison.Ordinal) && !l.StartsWith("warn:", StringComparison.Ordinal)
                            && !l.StartsWith("fail:", StringComparison.Ordinal))
                .ToList();
            Assert.True(others.Count == 0, "other lines after the banner:\n" + string.Join("\n", others));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task A_node_stops_on_sigterm_within_five_seconds_and_logs_json_when_asked()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 0, technicalAccounts: 1);
        var node = cluster.AddNode(["self"]);
        node.Environment["Logging__Console__FormatterName"] = "json";
        await cluster.StartNodeAsync(node);

        Assert.Equal(0, kill(node.Process!.Id, SigTerm));
        await WaitForExitAsync(node.Process, TimeSpan.FromSeconds(5), () => ClusterHarness.Tail(node));
        Assert.True(node.Process.ExitCode == 0, $"exit code {node.Process.ExitCode} after SIGTERM\n{ClusterHarness.Tail(node)}");

        // The console logger wrote JSON objects (Logging:Console:FormatterName=json), one per line, for log shippers.
        string[] lines;
        lock (node.Output)
            lines = node.Output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // Every line the node wrote (the harness marks its own with ===) is one JSON object with its time, level, category
        // and message.
        var written = lines.Where(l => !l.StartsWith("===", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(written);
        Assert.All(written, line =>
        {
            using var entry = JsonDocument.Parse(line);
            foreach (var field in new[] { "Timestamp", "LogLevel", "Category", "Message" })
                Assert.True(entry.RootElement.TryGetProperty(field, out _), $"{field} missing: {line}");
        });
    }

    private static (string Before, string After) Split(string text, string marker)
    {
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{marker}' not on the console:\n{text}");
        return (text[..at], text[at..]);
    }

    private static async Task PostAsync(HttpClient http, string url, string json)
    {
        using var response = await http.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"{url} answered {(int)response.StatusCode}");
    }

    private static async Task WaitForExitAsync(Process process, TimeSpan within, Func<string> story)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"still running {within.TotalSeconds:0} s after the signal\n{story()}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
