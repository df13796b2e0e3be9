using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>/healthz/live and /healthz/ready on the admin listener.</summary>
public class HealthTests
{
    [Fact]
    public async Task Ready_needs_the_cluster_the_journal_and_a_healthy_technical_account()
    {
        await using var loop = await Loop.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}") };
        await loop.AddUsersAsync(1, prefix: "health");

        // hocon/cluster.hocon wins over the defaults Akka.Hosting brings (it once lost to them and changed nothing).
        var config = loop.System.Settings.Config;
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(TimeSpan.FromSeconds(30), config.GetTimeSpan("akka.cluster.sharding.waiting-for-state-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(30), config.GetTimeSpan("akka.cluster.sharding.updating-state-timeout"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.GetTimeSpan("akka.cluster.sharding.retry-interval"));
        Assert.Equal(TimeSpan.FromSeconds(5), config.GetTimeSpan("akka.persistence.journal.sql.circuit-breaker.reset-timeout"));
        Assert.Equal(4L * 1024 * 1024, config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        // SQLite: one journal writer, reads without the write lock (PersistenceSetup).
        Assert.Equal(1, config.GetInt("akka.persistence.journal.sql.parallelism"));
        Assert.Equal("read-uncommitted", config.GetString("akka.persistence.journal.sql.read-isolation-level"));
        // ...and the journal and snapshot store open their connections through the tuned options (SqliteConnectionTuning).
        Assert.True(PersistencePlugins.InterceptorOf<PresenceActors.Persistence.SqliteConnectionTuning>(loop.System, PersistencePlugins.Journal).YieldsOnOpen);
        Assert.False(PersistencePlugins.InterceptorOf<PresenceActors.Persistence.SqliteConnectionTuning>(loop.System, PersistencePlugins.SnapshotStore).YieldsOnOpen);

        var live = await http.GetAsync("/healthz/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        JsonObject? ready = null;
        await Eventually.TrueAsync(async () =>
        {
            using var response = await http.GetAsync("/healthz/ready");
            ready = await response.Content.ReadFromJsonAsync<JsonObject>();
            return response.StatusCode == HttpStatusCode.OK;
        }, what: "ready");
        var checks = ready!["checks"]!.AsObject().Select(c => c.Key).ToList();
        Assert.Contains("technical-accounts", checks);
        Assert.Contains(checks, c => c.Contains("journal"));
        Assert.Contains(checks, c => c.Contains("cluster"));
        Assert.Contains("cluster-quorum", checks);

        // With its only technical account removed, the node is not ready, and says why.
        loop.Pool.Tell(new PresenceActors.Subscriptions.SubscriptionPoolCommands.RemoveAccount("tech1@contoso.com"), Akka.Actor.ActorRefs.NoSender);
        await Eventually.TrueAsync(async () => (await http.GetAsync("/healthz/ready")).StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30), "not ready without accounts");
        var body = await (await http.GetAsync("/healthz/ready")).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Contains("No technical account", body!["checks"]!["technical-accounts"]!["description"]!.GetValue<string>());
    }

    [Fact]
    public async Task Metrics_are_scraped_in_prometheus_format_on_the_admin_listener()
    {
        await using var loop = await Loop.StartAsync();
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, prefix: "metrics"))[0];
        loop.Graph.Tenant.SetClient(teams.Id, PresenceActors.Simulators.Graph.TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "T1 through the loop");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}") };
        // The webhook counts an item as accepted once the user's actor confirms it, which can come after UC already has
        // the update: wait for every metric rather than for the UC one alone.
        string[] expected = ["presence_notifications_received", "presence_notifications_accepted", "presence_uc_updates_sent",
            "presence_graph_calls", "presence_users_watched", "presence_subscriptions_active", "presence_sync_latency"];
        string text = "";
        await Eventually.TrueAsync(async () =>
        {
            text = await http.GetStringAsync("/metrics");
            return expected.All(text.Contains);
        }, what: "every metric exported", state: () => "missing: " + string.Join(", ", expected.Where(m => !text.Contains(m))));
        Assert.Matches(@"presence_graph_calls[^\n]*api=""post subscriptions""", text);
    }
}
