using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Host.Configuration;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Tests.Support;
using PresenceActors.UcFrontEnd;
using PresenceActors.Ingress;
using PresenceActors.Webhooks;
using Xunit;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace PresenceActors.Tests.Host;

/// <summary>
/// The Grafana dashboard and the compose file's monitoring profile: every metric the dashboard queries is one a running
/// node exports, and Prometheus and Grafana are wired to files of the repository and to the compose nodes.
/// </summary>
public class DashboardFilesTests
{
    private static string Root([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    private static string DashboardPath => Path.Combine(Root(), "deploy", "grafana", "presenceactors-dashboard.json");

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_exported_by_a_running_node()
    {
        var used = DashboardMetrics();
        Assert.NotEmpty(used);
        var scraped = new HashSet<string>(StringComparer.Ordinal);

        // A node whose ingress backlog may hold nothing answers every request 503: a count of items not taken without a flood.
        await using (var refusing = await Loop.StartAsync(adjust: o => o with { Ingress = new IngressOptions { MaxBacklog = 0 } }))
        {
            var (_, refusedUser) = (await refusing.AddUsersAsync(1, prefix: "refused"))[0];
            refusing.Graph.Tenant.SetClient(refusedUser.Id, TeamsClientState.InACall);
            await Eventually.TrueAsync(() => refusing.WebhookMetrics.NotTaken > 0, TimeSpan.FromSeconds(30), "a notification not taken");
            scraped.UnionWith(await ScrapeAsync(refusing, ["presence_notifications_not_taken_total"]));
        }

        await using var loop = await Loop.StartAsync();
        var (ucUserId, teams) = (await loop.AddUsersAsync(1, prefix: "dashboard"))[0];

        // A Teams call: a notification accepted, a UC update sent and its latency recorded.
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "the Teams call in UC");

        // Its end while every front end answers 503: a UC update failed, then sent once they are back.
        var emitter = loop.Service.Services.GetRequiredService<UcFrontEndEmitter>();
        for (var frontEnd = 0; frontEnd < loop.Uc.FrontEndUrls.Count; frontEnd++)
            await loop.Uc.SetModeAsync(frontEnd, FrontEndMode.Failing);
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await Eventually.TrueAsync(() => emitter.Failed > 0, TimeSpan.FromSeconds(30), "an update no front end took");
        for (var frontEnd = 0; frontEnd < loop.Uc.FrontEndUrls.Count; frontEnd++)
            await loop.Uc.SetModeAsync(frontEnd, FrontEndMode.Up);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Available", TimeSpan.FromSeconds(30), "the Teams call's end in UC");

        // A UC call and its end: setPresence and clearPresence against the presence budget.
        await loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId), what: "our Teams session for the UC call");
        await loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => !loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId), TimeSpan.FromSeconds(30), "our Teams session cleared");

        // A forged notification: a drop, counted by reason.
        var subscription = loop.Graph.Tenant.SubscriptionsWatching(teams.Id).Single();
        var forged = new JsonObject
        {
            ["value"] = new JsonArray(new JsonObject
            {
                ["subscriptionId"] = subscription.Id,
                ["changeType"] = "updated",
                ["clientState"] = "v1.forged.clientstate.AAAA",
                ["resource"] = $"communications/presences('{teams.Id}')",
                ["resourceData"] = new JsonObject { ["id"] = teams.Id },
            }),
        };
        using (var webhook = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }))
        {
            using var response = await webhook.PostAsync(loop.WebhookUrl, new StringContent(forged.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(() => loop.WebhookMetrics.DroppedFor("client-state") > 0, what: "the forged notification dropped");

        scraped.UnionWith(await ScrapeAsync(loop, [.. used.Where(m => !scraped.Contains(m))]));
        Assert.All(used, metric => Assert.Contains(metric, scraped));
    }

    [Fact]
    public void Every_dashboard_panel_queries_the_provisioned_prometheus_data_source()
    {
        var datasource = Map(((List<object>)Yaml(Path.Combine(Root(), "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"))["datasources"]).Single());
        Assert.Equal("prometheus", datasource["type"]);
        var uid = (string)datasource["uid"];

        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.NotEmpty(panels);
        Assert.All(panels, panel =>
        {
            var title = panel.GetProperty("title").GetString();
            Assert.Equal(uid, panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()), $"panel '{title}' has an empty expr"));
        });
    }

    [Fact]
    public void Monitoring_profile_mounts_repository_files_and_scrapes_every_compose_node_on_its_admin_port()
    {
        var services = Map(Compose()["services"]);
        var mounts = new Dictionary<string, string>(StringComparer.Ordinal); // container path -> repository path
        foreach (var name in new[] { "prometheus", "grafana" })
        {
            var service = Map(services[name]);
            Assert.Equal(["monitoring"], ((List<object>)service["profiles"]).Cast<string>());
            foreach (var volume in ((List<object>)service["volumes"]).Cast<string>())
            {
                var parts = volume.Split(':');
                if (!parts[0].StartsWith('.'))
                    continue; // a named volume for the service's own data
                var source = Path.GetFullPath(Path.Combine(Root(), parts[0]));
                Assert.True(File.Exists(source) || Directory.Exists(source), $"{name} mounts {parts[0]}, which is not in the repository");
                Assert.Equal("ro", parts[^1]);
                mounts[parts[1]] = source;
            }
        }

        Assert.StartsWith("prom/prometheus", (string)Map(services["prometheus"])["image"]);
        Assert.StartsWith("grafana/grafana", (string)Map(services["grafana"])["image"]);
        Assert.Contains("3000:3000", ((List<object>)Map(services["grafana"])["ports"]).Cast<string>());

        // Grafana provisions the data source and the dashboard from the mounted folders.
        Assert.Equal(Path.Combine(Root(), "deploy", "grafana", "provisioning", "datasources"), mounts["/etc/grafana/provisioning/datasources"]);
        Assert.Equal(Path.Combine(Root(), "deploy", "grafana", "provisioning", "dashboards"), mounts["/etc/grafana/provisioning/dashboards"]);
        var datasource = Map(((List<object>)Yaml(Path.Combine(mounts["/etc/grafana/provisioning/datasources"], "prometheus.yml"))["datasources"]).Single());
        Assert.Equal("prometheus", new Uri((string)datasource["url"]).Host); // the compose service
        var provider = Map(((List<object>)Yaml(Path.Combine(mounts["/etc/grafana/provisioning/dashboards"], "presenceactors.yml"))["providers"]).Single());
        var dashboardFolder = (string)Map(provider["options"])["path"];
        Assert.Contains(mounts, m => m.Key.StartsWith(dashboardFolder + "/", StringComparison.Ordinal) && m.Value == DashboardPath);

        // Prometheus scrapes /metrics on the admin port of exactly the compose nodes (the services with a public hostname).
        var prometheus = Yaml(mounts["/etc/prometheus/prometheus.yml"]);
        var job = Map(((List<object>)prometheus["scrape_configs"]).Single());
        Assert.Equal("/metrics", job["metrics_path"]);
        Assert.Equal("15s", job.TryGetValue("scrape_interval", out var interval) ? interval : Map(prometheus["global"])["scrape_interval"]);
        var defaultAdminPort = PresenceConfiguration.Keys.Single(k => k.Key == "presence.admin.port").Default;
        var expected = new List<string>();
        foreach (var (name, node) in services.Select(s => ((string)s.Key, Map(s.Value))))
        {
            if (!node.TryGetValue("environment", out var environment))
                continue;
            var env = Map(environment);
            if (!env.ContainsKey("presence__cluster__publicHostname"))
                continue;
            expected.Add($"{name}:{(env.TryGetValue("presence__admin__port", out var port) ? port : defaultAdminPort)}");

            // Loopback would be out of Prometheus's reach; beyond it the admin port serves TLS.
            var address = env.TryGetValue("presence__admin__address", out var configured) ? (string)configured : "127.0.0.1";
            Assert.False(IPAddress.IsLoopback(IPAddress.Parse(address)), $"{name}'s admin port listens on {address}, which Prometheus in another container cannot reach");
            Assert.Equal("https", job["scheme"]);
        }

        Assert.Equal(["node1:9110", "node2:9110", "node3:9110"], expected.Order());
        var targets = ((List<object>)job["static_configs"]).SelectMany(c => ((List<object>)Map(c)["targets"]).Cast<string>());
        Assert.Equal(expected.Order(), targets.Order());
    }

    /// <summary>Every metric name in any expr of the dashboard (histogram series keep their _bucket, _sum or _count).</summary>
    private static SortedSet<string> DashboardMetrics()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var expr in Expressions(dashboard.RootElement))
        {
            foreach (Match metric in Regex.Matches(expr, "presence_[a-z_]+"))
                names.Add(metric.Value);
        }

        return names;
    }

    private static IEnumerable<string> Expressions(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                foreach (var expr in Expressions(item))
                    yield return expr;
            }
        }
        else if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                {
                    yield return property.Value.GetString()!;
                    continue;
                }

                foreach (var expr in Expressions(property.Value))
                    yield return expr;
            }
        }
    }

    /// <summary>Series names on the node's /metrics once all of <paramref name="wanted"/> are there, or at the deadline (the caller asserts).</summary>
    private static async Task<HashSet<string>> ScrapeAsync(Loop loop, IReadOnlyCollection<string> wanted)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}") };
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                names = SeriesNames(await http.GetStringAsync("/metrics"));
                return wanted.All(names.Contains);
            }, TimeSpan.FromSeconds(30), "every wanted metric exported");
        }
        catch (TimeoutException)
        {
            // The assertion on what was scraped names the missing metrics.
        }

        return names;
    }

    /// <summary>The name of every sample line of Prometheus text: what comes before its labels or value.</summary>
    private static HashSet<string> SeriesNames(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line => line[..line.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);

    private static Dictionary<object, object> Compose()
    {
        var text = File.ReadAllText(Path.Combine(Root(), "docker-compose.yml"));
        return new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(new StringReader(text))));
    }

    private static Dictionary<object, object> Yaml(string path) =>
        new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(File.ReadAllText(path));

    private static Dictionary<object, object> Map(object node) => (Dictionary<object, object>)node;
}
