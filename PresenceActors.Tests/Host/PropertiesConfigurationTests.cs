using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Host.Configuration;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The properties file as a configuration source, and the defaults of the keys as the option types give them.</summary>
public class PropertiesConfigurationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("presence-properties-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void The_file_gives_keys_in_the_configurations_own_form_and_environment_variables_win()
    {
        // A key of this test's own: environment variables are the whole process's, and no other test reads this one.
        var key = $"presence.test{Guid.NewGuid():N}.value";
        var file = Path.Combine(_folder, "application.properties");
        File.WriteAllText(file, $"""
            azure.activedirectory.technical.users[0].username = tech2@contoso.com
            {key} = from-the-file
            presence.logging.json = true
            """);
        var environment = PresenceConfiguration.PathOf(key).Replace(":", "__", StringComparison.Ordinal);
        Environment.SetEnvironmentVariable(environment, "from-the-environment");
        try
        {
            var configuration = PresenceConfiguration.Build(new FileInfo(file), out var problems);

            Assert.Empty(problems);
            Assert.Equal("tech2@contoso.com", configuration["azure:activedirectory:technical:users:0:username"]);
            Assert.Equal("tech2@contoso.com", PresenceConfiguration.Get(configuration, "azure.activedirectory.technical.users[0].username"));
            Assert.Equal("true", configuration.GetSection("presence").GetSection("logging")["json"]);
            Assert.Equal("from-the-environment", PresenceConfiguration.Get(configuration, key));
        }
        finally
        {
            Environment.SetEnvironmentVariable(environment, null);
        }
    }

    [Fact]
    public void A_file_whose_name_starts_with_a_dot_is_read_too()
    {
        var file = Path.Combine(_folder, ".presence.properties");
        File.WriteAllText(file, "presence.logging.json = true\n");

        var configuration = PresenceConfiguration.Build(new FileInfo(file), out var problems);

        Assert.Empty(problems);
        Assert.Equal("true", PresenceConfiguration.Get(configuration, "presence.logging.json"));
    }

    [Fact]
    public void A_line_that_is_not_a_key_and_value_is_a_problem_naming_the_file_and_line_never_its_text()
    {
        var file = Path.Combine(_folder, "broken.properties");
        File.WriteAllText(file, "presence.logging.json = true\nPasted-S3cret-Value\n");

        PresenceConfiguration.Build(new FileInfo(file), out var problems);

        var problem = Assert.Single(problems);
        Assert.StartsWith("broken.properties: line 2 is not 'key = value'", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("Pasted-S3cret-Value", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_default_in_the_key_table_is_the_one_a_node_runs_with()
    {
        // The seed's required keys only: every other key takes its default, which the option types write once.
        var file = Path.Combine(_folder, "application.properties");
        File.WriteAllText(file, $"""
            azure.activedirectory.clientId = 5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30
            azure.activedirectory.tenantId = 8d2a6c8e-4d1f-4c2e-9f3a-5b7e1c0d2a11
            azure.activedirectory.clientSecret = Qx8~s3cr3t.value-from-the-portal
            azure.activedirectory.technical.user.username = presence-tech1@contoso.com
            azure.activedirectory.technical.user.password = Technical-P4ssword!
            webhook.receiver = https://facade.contoso.com:8443/graph/listen
            webhook.listener.http.url = https://fe1.contoso.com:8443/owc-servlets/user/graph/notifications
            presence.dataFolder = {Path.Combine(_folder, "data")}
            """);
        var options = PresenceConfiguration.Load(PresenceConfiguration.Build(new FileInfo(file), out _), out var problems);
        Assert.Empty(problems);
        Assert.NotNull(options);

        string Default(string key) => PresenceConfiguration.Keys.Single(k => k.Key == key).Default;
        TimeSpan Duration(string key) => TimeSpan.Parse(Default(key), CultureInfo.InvariantCulture);
        var rules = options.Node.Users.Rules;
        Assert.Equal(Duration("presence.session.ttl"), rules.SessionTtl);
        Assert.Equal(Duration("presence.session.refresh"), rules.SessionRefresh);
        Assert.Equal(Duration("presence.session.maxTtl"), rules.LongestSessionTtl);
        Assert.Equal(Duration("presence.session.maxTtl"), options.Graph.SessionTtlWhenTight);
        Assert.Equal(Duration("presence.uc.maxCallLength"), rules.MaxUcCallLength);
        Assert.Equal(Duration("presence.cluster.heartbeatPause"), options.Node.Cluster.HeartbeatPause);
        Assert.Equal(Duration("presence.cluster.stableAfter"), options.Node.Cluster.StableAfter);
        Assert.Equal(Duration("presence.cluster.downRemovalMargin"), options.Node.Cluster.DownRemovalMargin);
        Assert.Equal(Duration("presence.cluster.upWithin"), options.Node.Cluster.UpWithin);
        Assert.Equal(Duration("presence.ingress.commitTimeout"), options.Ingress.AppendTimeout);
        Assert.Equal(Duration("presence.ingress.lease"), options.Ingress.Lease);
        Assert.Equal(int.Parse(Default("presence.ingress.maxBacklog"), CultureInfo.InvariantCulture), options.Ingress.MaxBacklog);
        Assert.Equal(int.Parse(Default("presence.graph.maxConnections"), CultureInfo.InvariantCulture), options.Graph.MaxConnections);
        Assert.Equal(int.Parse(Default("presence.graph.presenceBudget"), CultureInfo.InvariantCulture), options.Graph.PresenceBudget);
        Assert.Equal(int.Parse(Default("presence.webhook.port"), CultureInfo.InvariantCulture), options.Webhook.Port);
        Assert.Equal(int.Parse(Default("presence.api.port"), CultureInfo.InvariantCulture), options.InternalApi.Port);
        Assert.Equal(int.Parse(Default("presence.admin.port"), CultureInfo.InvariantCulture), options.Admin.Port);
        Assert.Equal(int.Parse(Default("presence.cluster.port"), CultureInfo.InvariantCulture), options.Node.Cluster.Port);
        Assert.Equal(int.Parse(Default("presence.webhook.rateLimitPerSecond"), CultureInfo.InvariantCulture), options.WebhookRequestsPerSource);
        Assert.Equal(new Uri(Default("presence.graph.authorityHost")), options.Graph.AuthorityHost);
        Assert.Equal(new Uri(Default("presence.graph.baseUrl")), options.Graph.GraphBaseUrl);
        Assert.Equal(new Uri(Default("presence.graph.openIdConfiguration")), options.OpenIdConfiguration);
        Assert.Equal(PresenceActors.Users.PresenceMapping.Seed.TeamsToUc.Select(r => r.ToString()), rules.Mapping.TeamsToUc.Select(r => r.ToString()));
        Assert.Equal(PresenceActors.Users.PresenceMapping.Seed.UcToTeams.Select(r => r.ToString()), rules.Mapping.UcToTeams.Select(r => r.ToString()));
        Assert.Equal("InACall,InAConferenceCall", Default("presence.callActivities"));
    }

    [Fact]
    public async Task A_node_refuses_to_start_on_a_value_config_check_refuses()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create("presence.session.ttl", (string?)"00:04:00"), KeyValuePair.Create("presence:ingress:lease", (string?)"00:00:03")])
            .Build();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddBoundKeys(configuration);
        using var host = builder.Build();

        var refused = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("presence.session.ttl = 00:04:00 is outside what Graph accepts", refused.Message, StringComparison.Ordinal);
        // What binds is what the loader reads: the same keys, the same defaults, in both forms.
        var ingress = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<IngressKeys>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), ingress.Lease);
        Assert.Equal(new PresenceActors.Ingress.IngressOptions().MaxBacklog, ingress.MaxBacklog);
    }
}
