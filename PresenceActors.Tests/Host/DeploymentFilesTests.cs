using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using PresenceActors.Host.Configuration;
using PresenceActors.Persistence;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>No Docker engine runs here, so the compose file and Dockerfile are checked against the service's keys and ports.</summary>
public class DeploymentFilesTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), $"presence-compose-{Guid.NewGuid():N}");

    private static string Root() => Support.DeployedConfiguration.Root();

    private static Dictionary<object, object> Compose() => Support.ComposeFile.Read();

    private static Dictionary<object, object> Map(object node) => Support.ComposeFile.Map(node);

    [Fact]
    public void Compose_has_postgres_with_a_health_check_and_three_nodes_that_wait_for_it()
    {
        var services = Map(Compose()["services"]);
        var postgres = Map(services["postgres"]);
        Assert.StartsWith("postgres:15", (string)postgres["image"]);
        Assert.Contains("pg_isready", string.Join(' ', ((List<object>)Map(postgres["healthcheck"])["test"]).Cast<string>()));
        // Three nodes of up to 56 connections each: PostgreSQL's default of 100 is not enough.
        Assert.Contains("max_connections=200", ((List<object>)postgres["command"]).Cast<string>());

        foreach (var name in new[] { "node1", "node2", "node3" })
        {
            var node = Map(services[name]);
            Assert.Equal("service_healthy", Map(Map(node["depends_on"])["postgres"])["condition"]);
            var ports = ((List<object>)node["ports"]).Cast<string>().Select(p => p.Split(':')[1]).ToList();
            Assert.Equal(["8443", "10443"], ports); // the service's default webhook and internal API ports
        }

        Assert.Equal(["demo"], ((List<object>)Map(services["graph-simulator"])["profiles"]).Cast<string>());
    }

    [Theory]
    [InlineData("node1")]
    [InlineData("node2")]
    [InlineData("node3")]
    public void Every_node_environment_is_a_known_key_and_loads_as_a_postgresql_cluster_node(string name)
    {
        var environment = Support.ComposeFile.Environment(name, Support.ComposeFile.OperatorVariables())
            .ToDictionary(e => e.Key.Replace("__", "."), e => e.Value);
        var known = PresenceConfiguration.Keys.Select(k => k.Key).ToHashSet();
        Assert.All(environment.Keys, key => Assert.Contains(key, known));

        environment["presence.dataFolder"] = _data;
        var options = Support.DeployedConfiguration.Load(environment, out var problems);

        Assert.Empty(problems);
        Assert.Equal(PersistenceProvider.PostgreSql, options!.Node.Persistence.Provider);
        Assert.Equal(3, options.Node.Cluster.SeedNodes.Count);
        Assert.Equal(name, options.Node.Cluster.PublicHostname);
        Assert.Equal(4053, options.Node.Cluster.Port);
        Assert.Equal(8443, options.Webhook.Port);
        Assert.Equal(10443, options.InternalApi.Port);
        // No file of the node's own: the cluster's encryption certificates come from PostgreSQL, the keys from the operator.
        Assert.NotNull(options.EncryptionStore);
        Assert.Null(options.EncryptionCertificate);
        Assert.Equal(environment["presence.api.key"], options.InternalApiKey);
    }

    [Fact]
    public void Dockerfile_is_multi_stage_and_exposes_the_service_ports()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root(), "Dockerfile"));
        Assert.Equal(2, Regex.Matches(dockerfile, @"^FROM ", RegexOptions.Multiline).Count);
        Assert.Contains("EXPOSE 8443 10443 4053", dockerfile);
        Assert.Contains("PresenceActors.Host.dll", dockerfile);
    }

    public void Dispose()
    {
        if (Directory.Exists(_data))
            Directory.Delete(_data, recursive: true);
    }
}
