using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// The persist-first webhook's promise in a cluster: what a node answered 202 for is committed to the cluster's ingress
/// log, so a kill -9 of that node right after the answer loses nothing; a surviving node takes its entries over once
/// the dead node's lease ends and they reach UC from there.
/// </summary>
[Collection(Alone.Name)]
public class IngressTakeoverTests(ITestOutputHelper output)
{
    private const int UserCount = 5;

    [Fact]
    public async Task A_node_killed_right_after_answering_202_loses_nothing_its_items_reach_UC_from_another_node()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 1, start: false);
        // The victim cannot read Entra's signing keys (its metadata URL leads nowhere): what it admits stays in the log,
        // unprocessed, until it dies. The others read them from the simulator as usual.
        var victim = cluster.Nodes[2];
        var nowhere = $"https://127.0.0.1:{TestPorts.Next()}/common/.well-known/openid-configuration";
        File.WriteAllLines(victim.Config, File.ReadAllLines(victim.Config)
            .Select(l => l.StartsWith("presence.graph.openIdConfiguration", StringComparison.Ordinal) ? $"presence.graph.openIdConfiguration = {nowhere}" : l));
        await Task.WhenAll(cluster.Nodes.Select(n => cluster.StartNodeAsync(n)));
        await cluster.WaitOneClusterAsync();

        var users = new List<(string Uc, string Teams)>();
        for (var i = 0; i < UserCount; i++)
        {
            var teams = cluster.Graph.Tenant.AddUser($"takeover{i}@contoso.com");
            cluster.Uc.AddUser($"uc-takeover{i}");
            users.Add(($"uc-takeover{i}", teams.Id));
            var (status, body) = await cluster.Uc.RegisterAsync($"uc-takeover{i}", teams.Id);
            Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        }

        await Eventually.TrueAsync(() => users.All(u => cluster.Graph.Tenant.SubscriptionsWatching(u.Teams).Any()), TimeSpan.FromMinutes(1), "every user watched");
        // The only news of the calls is the notification posted to the victim: Teams itself changes nothing (a read of
        // the users' presence, as after a member is removed, shows an older sequence number and is ignored).
        var items = users.Select(u =>
        {
            var subscription = cluster.Graph.Tenant.SubscriptionsWatching(u.Teams).Single();
            var presence = Encoding.UTF8.GetBytes($$"""{"id":"{{u.Teams}}","availability":"Busy","activity":"InACall","sequenceNumber":"99999999999999999999"}""");
            return (JsonNode)new JsonObject
            {
                ["subscriptionId"] = subscription.Id,
                ["changeType"] = "updated",
                ["clientState"] = subscription.ClientState,
                ["resource"] = $"communications/presences('{u.Teams}')",
                ["resourceData"] = new JsonObject { ["id"] = u.Teams },
                ["encryptedContent"] = NotificationDelivery.Encrypt(presence, subscription.EncryptionCertificate!, subscription.EncryptionCertificateId!),
            };
        }).ToArray();
        var body202 = new JsonObject { ["value"] = new JsonArray(items), ["validationTokens"] = new JsonArray(cluster.Graph.Delivery.ValidationToken(ClusterHarness.ClientId)) };

        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var response = await http.PostAsync($"https://127.0.0.1:{victim.Webhook}/graph/listen", new StringContent(body202.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        ClusterHarness.Kill(victim);
        var killedAt = DateTime.UtcNow;
        Assert.All(users, u => Assert.Equal("Available", cluster.Uc.User(u.Uc)!.Status));

        await Eventually.TrueAsync(() => users.All(u => cluster.Uc.User(u.Uc)!.Status == "Busy"), TimeSpan.FromMinutes(1), "every call reaches UC from a surviving node",
            () => cluster.Report());
        output.WriteLine($"all {UserCount} calls reached UC {(DateTime.UtcNow - killedAt).TotalSeconds:F1} s after the kill");

        // They came by way of the log: a survivor took the dead node's entry over.
        var takenOver = 0L;
        foreach (var node in cluster.Nodes.Where(n => n.Running))
        {
            using var admin = ClusterHarness.AdminClient(node);
            var metrics = await admin.GetStringAsync($"http://127.0.0.1:{node.Admin}/metrics");
            var match = Regex.Match(metrics, @"^presence_ingress_taken_over_total(?:\{[^}]*\})? (\d+)", RegexOptions.Multiline);
            takenOver += match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }

        Assert.Equal(1, takenOver);
    }
}
