using Microsoft.Playwright;
using PresenceActors.Host.Sandbox;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// The status page in headless Chromium (Debian's package, driven by Playwright; no browser download) against a running
/// sandbox: it loads, shows the accounts and users, a button starts a call, and the last hour's charts draw what happened.
/// </summary>
public class StatusPageBrowserTests
{
    /// <summary>Where Debian's chromium package puts it (test.sh installs it); PRESENCE_CHROMIUM overrides it.</summary>
    private static string Chromium => Environment.GetEnvironmentVariable("PRESENCE_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Screenshots are kept beside the test binaries (CI keeps TestResults as artifacts).</summary>
    public static string ArtifactFolder => Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots")).FullName;

    [Fact]
    public async Task Page_shows_the_sandbox_and_a_button_starts_a_call()
    {
        Assert.True(File.Exists(Chromium), $"Chromium is needed at {Chromium} (Debian package chromium: test.sh installs it).");
        var data = Path.Combine(Path.GetTempPath(), $"presence-page-{Guid.NewGuid():N}");
        var ports = new SandboxMode.Ports(TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), 0);
        var ready = new TaskCompletionSource<SandboxMode.Running>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => SandboxMode.RunAsync(new SandboxMode.Settings(6, data, ports, ready.SetResult, Output: TextWriter.Null), stop.Token));
        try
        {
            var sandbox = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            foreach (var (_, upn) in sandbox.Users)
            {
                var id = sandbox.Graph.Tenant.FindUser(upn)!.Id;
                await Eventually.TrueAsync(() => sandbox.Graph.Tenant.SubscriptionsWatching(id).Count == 1, TimeSpan.FromSeconds(30), $"{upn} watched");
            }

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1100 } });
            var errors = new List<string>();
            page.PageError += (_, e) => errors.Add(e);
            await page.GotoAsync($"http://127.0.0.1:{ports.Admin}/status");

            // The accounts and the users of the running sandbox.
            var accounts = page.Locator("#accounts tr[data-account]");
            await Assertions.Expect(accounts).ToHaveCountAsync(2, new() { Timeout = 15_000 });
            await Assertions.Expect(accounts.First).ToContainTextAsync("/ 650");
            await Assertions.Expect(page.Locator("#accounts .dot.green")).ToHaveCountAsync(2);
            await Assertions.Expect(page.Locator("#users tr.user")).ToHaveCountAsync(6, new() { Timeout = 15_000 });
            await Assertions.Expect(page.Locator("#readiness")).ToHaveTextAsync("ready", new() { Timeout = 30_000 });

            // A click starts a Teams call: the row changes within a second (the simulator side and the button at once),
            // then the service's own view shows the call mirrored to UC.
            var (ucUserId, _) = sandbox.Users[0];
            var row = page.Locator($"#users tr[data-user='{ucUserId}']");
            await row.Locator("button[data-action='teams-call']").ClickAsync();
            await Assertions.Expect(row).ToContainTextAsync("Teams Busy/InACall", new() { Timeout = 1_000 });
            await Assertions.Expect(row.Locator("button[data-action='teams-call']")).ToHaveTextAsync("End Teams call", new() { Timeout = 1_000 });
            await Assertions.Expect(row.Locator("td.teams")).ToHaveTextAsync("Busy/InACall", new() { Timeout = 15_000 });
            await Assertions.Expect(row.Locator("td.uc")).ToHaveTextAsync("Busy", new() { Timeout = 15_000 });
            await Assertions.Expect(row.Locator("td.flags")).ToContainTextAsync("Teams call");
            Assert.Equal("Busy", sandbox.Uc.User(ucUserId)!.Status);

            // The live feed shows the rule that fired; a row opens its timeline.
            await Assertions.Expect(page.Locator("#feed li").Filter(new() { HasText = "T1" })).Not.ToHaveCountAsync(0, new() { Timeout = 15_000 });
            await row.Locator("td").First.ClickAsync();
            await Assertions.Expect(page.Locator("tr.timeline")).ToContainTextAsync("T1", new() { Timeout = 5_000 });

            // The charts: sync latency p50/p99 has a point for this minute, and the rates show the notification and the UC update.
            var latency = page.Locator("#chart-latency polyline[data-series='p50']");
            await Assertions.Expect(latency).Not.ToHaveAttributeAsync("data-points", "0", new() { Timeout = 5_000 });
            await Assertions.Expect(page.Locator("#chart-latency polyline[data-series='p99']")).Not.ToHaveAttributeAsync("data-points", "0");
            foreach (var series in new[] { "notifications", "ucUpdates" })
            {
                var line = page.Locator($"#chart-rates polyline[data-series='{series}']");
                await Assertions.Expect(line).ToHaveAttributeAsync("data-points", "60");
                await Assertions.Expect(line).Not.ToHaveAttributeAsync("data-max", "0", new() { Timeout = 5_000 });
            }

            // At 1280 px the users table fits its section: nothing to scroll sideways.
            var overflow = await page.EvaluateAsync<int>("() => { const s = document.getElementById('users-table').closest('section'); return s.scrollWidth - s.clientWidth; }");
            Assert.True(overflow <= 0, $"the users table is {overflow} px wider than its section at 1280 px");

            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactFolder, "status-page.png"), FullPage = true });
            Assert.True(new FileInfo(Path.Combine(ArtifactFolder, "status-page.png")).Length > 10_000);

            // The mapping editor: the table in force, a preview naming the user who would change, a save for the cluster.
            await Assertions.Expect(page.Locator("#mapping-version")).ToHaveTextAsync("version 0", new() { Timeout = 5_000 });
            var (presenterUc, presenterUpn) = sandbox.Users[1];
            sandbox.Graph.Tenant.SetClient(sandbox.Graph.Tenant.FindUser(presenterUpn)!.Id, PresenceActors.Simulators.Graph.TeamsClientState.Presenting);
            await Assertions.Expect(page.Locator($"#users tr[data-user='{presenterUc}'] td.teams")).ToHaveTextAsync("DoNotDisturb/Presenting", new() { Timeout = 15_000 });
            var table = System.Text.Json.Nodes.JsonNode.Parse(await page.Locator("#mapping-text").InputValueAsync())!;
            table["teamsToUc"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["activity"] = "Presenting", ["ucStatus"] = "Busy" });
            await page.Locator("#mapping-text").FillAsync(table.ToJsonString());
            await page.Locator("#mapping-preview").ClickAsync();
            await Assertions.Expect(page.Locator("#mapping-message")).ToContainTextAsync("1 of", new() { Timeout = 10_000 });
            await Assertions.Expect(page.Locator("#mapping-changes tr.change")).ToContainTextAsync(presenterUc);
            Assert.Equal("Available", sandbox.Uc.User(presenterUc)!.Status); // a preview changes nothing
            await page.Locator("#mapping-comment").FillAsync("presenting counts");
            await page.Locator("#mapping-save").ClickAsync();
            await Assertions.Expect(page.Locator("#mapping-version")).ToHaveTextAsync("version 1", new() { Timeout = 10_000 });
            await Assertions.Expect(page.Locator("#mapping-history tbody tr").First).ToContainTextAsync("presenting counts");
            await Eventually.TrueAsync(() => sandbox.Uc.User(presenterUc)!.Status == "Busy", what: "the presenter busy in UC once saved");

            // A table that could loop is refused on the page, naming the rows.
            table["ucToTeams"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["trigger"] = "Busy", ["availability"] = "DoNotDisturb", ["activity"] = "Presenting" });
            await page.Locator("#mapping-text").FillAsync(table.ToJsonString());
            await page.Locator("#mapping-preview").ClickAsync();
            await Assertions.Expect(page.Locator("#mapping-message")).ToContainTextAsync("ucToTeams[1]", new() { Timeout = 10_000 });
            await Assertions.Expect(page.Locator("#mapping-message")).ToContainTextAsync("loop");

            // Ending the call through the page restores UC.
            await row.Locator("button[data-action='teams-call']").ClickAsync();
            await Assertions.Expect(row.Locator("td.uc")).ToHaveTextAsync("Available", new() { Timeout = 15_000 });
            Assert.Empty(errors);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }
}
