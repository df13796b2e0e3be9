using PresenceActors.Host.Sandbox;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The README's run command: the sandbox starts, registers its demo users and syncs a Teams call.</summary>
public class SandboxTests
{
    [Fact]
    public async Task Sandbox_starts_with_demo_users_and_mirrors_a_teams_call_to_uc()
    {
        var data = Path.Combine(Path.GetTempPath(), $"presence-sandbox-{Guid.NewGuid():N}");
        var ports = new SandboxMode.Ports(TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), 0);
        var ready = new TaskCompletionSource<SandboxMode.Running>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => SandboxMode.RunAsync(new SandboxMode.Settings(3, data, ports, ready.SetResult), stop.Token));
        try
        {
            var sandbox = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(3, sandbox.Users.Count);
            var (ucUserId, upn) = sandbox.Users[0];
            var teams = sandbox.Graph.Tenant.FindUser(upn)!;
            await Eventually.TrueAsync(() => sandbox.Graph.Tenant.SubscriptionsWatching(teams.Id).Count == 1, TimeSpan.FromSeconds(30), "demo user watched");

            sandbox.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
            await Eventually.TrueAsync(() => sandbox.Uc.User(ucUserId)!.Status == "Busy", what: "UC Busy in the sandbox");
            sandbox.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
            await Eventually.TrueAsync(() => sandbox.Uc.User(ucUserId)!.Status == "Available", what: "UC restored in the sandbox");

            // The CLI answers against the sandbox.
            var output = new StringWriter();
            var root = new System.CommandLine.RootCommand { PresenceActors.Host.Admin.Ctl.Build(output) };
            Assert.Equal(0, await root.Parse(["ctl", "presence", "user", ucUserId, "--url", $"http://127.0.0.1:{ports.Admin}"]).InvokeAsync());
            Assert.Contains("T2", output.ToString());
            Assert.Equal(0, await root.Parse(["ctl", "presence", "pool", "--url", $"http://127.0.0.1:{ports.Admin}"]).InvokeAsync());
            Assert.Contains("presence-tech1@contoso.com", output.ToString());
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Sandbox_demo_runs_every_seed_row_both_ways_and_exits_zero()
    {
        var data = Path.Combine(Path.GetTempPath(), $"presence-demo-{Guid.NewGuid():N}");
        var ports = new SandboxMode.Ports(TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), TestPorts.Next(), 0);
        var output = new StringWriter();
        try
        {
            var exit = await SandboxMode.RunAsync(new SandboxMode.Settings(14, data, ports, Demo: true, Output: output), CancellationToken.None)
                .WaitAsync(TimeSpan.FromMinutes(3));
            var text = output.ToString();
            Assert.True(exit == 0, text);
            Assert.Contains("All 14 rows came out right.", text);
            Assert.Equal(7, text.Split('\n').Count(l => l.StartsWith("Teams call") && l.TrimEnd().EndsWith("ok")));
            Assert.Equal(7, text.Split('\n').Count(l => l.StartsWith("UC call") && l.TrimEnd().EndsWith("ok")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }
}
