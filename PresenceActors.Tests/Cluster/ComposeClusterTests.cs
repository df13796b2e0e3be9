using System.Net;
using System.Text.Json.Nodes;
using PresenceActors.Host.Configuration;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Cluster;

/// <summary>
/// The cluster exactly as docker-compose.yml configures it: no file shared between nodes, the operator's three secrets
/// in the environment, the encryption certificate made by the first node and kept in PostgreSQL. Behind the TCP
/// pass-through every node takes Graph's notifications and the UC back end's calls, and a certificate rotation during
/// traffic loses nothing (docs/operator-guide.md, "Cluster-wide secrets").
/// </summary>
[Collection(Alone.Name)]
public class ComposeClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Harness_gives_each_node_the_compose_environment_with_only_network_stand_ins_and_shares_no_file()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 1, start: false);
        foreach (var node in cluster.Nodes)
        {
            var compose = ComposeFile.Environment($"node{node.Index + 1}", cluster.OperatorVariables);
            Assert.Equal(compose.Keys.Order(StringComparer.Ordinal), node.ComposeEnvironment.Keys.Order(StringComparer.Ordinal));
            Assert.Subset(compose.Keys.ToHashSet(), ClusterHarness.NetworkStandIns.ToHashSet());
            foreach (var (key, value) in compose.Where(e => !ClusterHarness.NetworkStandIns.Contains(e.Key)))
                Assert.True(value == node.ComposeEnvironment[key], $"node {node.Index}: {key} differs from docker-compose.yml");

            // The properties file is the site's (tenant, technical users, URLs) and the ports docker maps: nothing the
            // compose environment sets, and none of the cluster-wide secrets or stores.
            var properties = PropertiesFile.Parse(await File.ReadAllTextAsync(node.Config), out var syntax);
            Assert.Empty(syntax);
            var fromCompose = compose.Keys.Select(k => k.Replace("__", ".")).ToHashSet(StringComparer.OrdinalIgnoreCase);
            string[] clusterWide = ["presence.encryption.", "presence.clientState.", "presence.api.key", "presence.persistence.", "presence.cluster.", "presence.admin.", "presence.dataFolder"];
            Assert.All(properties.Keys, key =>
            {
                Assert.DoesNotContain(key, fromCompose);
                // Ports excepted: the three nodes share one host here, where each container has its own.
                Assert.False(!key.EndsWith(".port", StringComparison.Ordinal) && clusterWide.Any(prefix => key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)),
                    $"{node.Config} sets {key}");
            });
        }

        // No key or certificate file for the nodes to share: only the simulators' certificates and each node's properties.
        var files = Directory.GetFiles(cluster.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["graph.pem", "node0.properties", "node1.properties", "node2.properties", "uc.pem"], files);
    }

    [Fact]
    public async Task Every_node_configured_as_compose_decrypts_and_routes_and_a_certificate_rotation_during_traffic_loses_nothing()
    {
        await using var cluster = await ClusterHarness.StartAsync(nodes: 3, technicalAccounts: 2);
        var graph = cluster.Graph;
        var uc = cluster.Uc;
        var users = new List<(string Uc, string Teams)>();
        for (var i = 0; i < 30; i++)
        {
            var teams = graph.Tenant.AddUser($"k{i:D2}@contoso.com");
            uc.AddUser($"uc-k{i:D2}");
            users.Add(($"uc-k{i:D2}", teams.Id));
        }

        // Registered in three batches, the pass-through's connections dropped between them: the UC back end's calls reach
        // every node, and every node takes the operator's one internal API key.
        foreach (var batch in users.Chunk(10))
        {
            foreach (var (ucId, teamsId) in batch)
            {
                var (status, body) = await uc.RegisterAsync(ucId, teamsId);
                Assert.True(status == HttpStatusCode.OK, $"{ucId}: {status} {body}");
            }

            cluster.ApiProxy.DropConnections();
        }

        await Eventually.TrueAsync(() => Watched(graph) == users.Count, TimeSpan.FromMinutes(2), "every user watched", () => $"{Watched(graph)} watched");
        var before = await CertificatesAsync(cluster);
        Assert.Single(before.Select(v => v.Current).Distinct());
        var first = before[0].Current;
        Assert.All(graph.Tenant.ListSubscriptions(), s => Assert.Equal(first, s.EncryptionCertificateId));

        // Rounds of changes, the webhook's connections dropped after each: Graph's next connections land on the next nodes.
        var round = 0;
        async Task RoundAsync(Func<Task>? during = null)
        {
            var inCall = round++ % 2 == 0;
            foreach (var (_, teamsId) in users)
                graph.Tenant.SetClient(teamsId, inCall ? TeamsClientState.InACall : TeamsClientState.Available);
            if (during is not null)
                await during();
            var expected = inCall ? "Busy" : "Available";
            await Eventually.TrueAsync(() => users.All(u => uc.User(u.Uc)!.Status == expected), TimeSpan.FromMinutes(2), $"round {round}: every user {expected} on UC",
                () => $"{users.Count(u => uc.User(u.Uc)!.Status != expected)} not {expected}; Graph delivery {graph.Delivery.Delivered} delivered, " +
                      $"{graph.Delivery.FailedAttempts} failed attempts, {graph.Delivery.WaitingToRetry} waiting\n{cluster.Report()}");
            cluster.WebhookProxy.DropConnections();
        }

        for (var i = 0; i < 3; i++)
            await RoundAsync();
        // A node counts a post's items as accepted once every user's actor confirmed them, which can be a moment after UC
        // saw the update the round waited for: the counters are read until they show it. Indices, not the nodes themselves,
        // in the messages: a failure must not print a node's environment (its secrets).
        long[] acceptedBefore = [];
        await Eventually.TrueAsync(async () => (acceptedBefore = await CountersAsync(cluster, "notificationsAccepted")).All(n => n > 0),
            TimeSpan.FromSeconds(30), "every node accepted a notification", () => $"accepted per node: {string.Join(", ", acceptedBefore)}");

        // The rotation, asked of a node that is not the singleton's, while a round of changes is being delivered.
        var singleton = await cluster.SingletonNodeAsync();
        var rotator = cluster.Nodes.First(n => n != singleton);
        JsonNode? rotated = null;
        await RoundAsync(async () => rotated = await cluster.AdminAsync(rotator, "certificates/rotate", HttpMethod.Post));
        var next = rotated!["current"]!.GetValue<string>();
        Assert.NotEqual(first, next);
        output.WriteLine($"rotated on node {rotator.Index}: {rotated.ToJsonString()}");
        await Eventually.TrueAsync(() => graph.Tenant.ListSubscriptions().All(s => s.EncryptionCertificateId == next), TimeSpan.FromMinutes(1),
            "every subscription renewed with the new certificate", () => string.Join(", ", graph.Tenant.ListSubscriptions().Select(s => s.EncryptionCertificateId)));

        var acceptedRotated = await CountersAsync(cluster, "notificationsAccepted");
        for (var i = 0; i < 3; i++)
            await RoundAsync();
        long[] acceptedAfter = [];
        await Eventually.TrueAsync(async () => (acceptedAfter = await CountersAsync(cluster, "notificationsAccepted")).Zip(acceptedRotated).All(p => p.Item1 > p.Item2),
            TimeSpan.FromSeconds(30), "every node accepted something encrypted for the new certificate",
            () => $"accepted per node: {string.Join(", ", acceptedRotated)} → {string.Join(", ", acceptedAfter)}");

        // Every node holds the new certificate and still the old one; none met a certificate it could not find.
        var after = await CertificatesAsync(cluster);
        Assert.All(after, v =>
        {
            Assert.Equal(next, v.Current);
            Assert.Contains(first, v.Accepted);
        });
        var unknown = await CountersAsync(cluster, "notificationsUnknownCertificate");
        Assert.All(unknown, n => Assert.Equal(0, n));
        Assert.All(await Task.WhenAll(cluster.Nodes.Select(ClusterHarness.ReadyAsync)), Assert.True);
        output.WriteLine($"notifications accepted per node: {string.Join(", ", acceptedAfter)}; unknown-certificate per node: {string.Join(", ", unknown)}; " +
                         $"Graph: {graph.Delivery.Delivered} delivered, {graph.Delivery.FailedAttempts} failed attempts");
    }

    private static int Watched(GraphSimulator graph) => graph.Tenant.ListSubscriptions().SelectMany(s => s.UserIds).Distinct().Count();

    private static async Task<List<(string Current, List<string> Accepted)>> CertificatesAsync(ClusterHarness cluster) =>
        (await Task.WhenAll(cluster.Nodes.Select(n => cluster.AdminAsync(n, "certificates"))))
        .Select(v => (v["current"]!.GetValue<string>(), v["accepted"]!.AsArray().Select(a => a!.GetValue<string>()).ToList())).ToList();

    private static async Task<long[]> CountersAsync(ClusterHarness cluster, string counter) =>
        (await Task.WhenAll(cluster.Nodes.Select(n => cluster.AdminAsync(n, "status/data"))))
        .Select(v => v["counters"]![counter]!.GetValue<long>()).ToArray();
}
