using Microsoft.Extensions.Configuration;
using PresenceActors.Host.Configuration;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The seed's application.properties, read as operators have it, and checked key by key.</summary>
public class ConfigurationTests : IDisposable
{
    /// <summary>The UC Graph Connector manual's example application.properties, placeholders filled in, wiki link markup and all.</summary>
    private const string SeedExample = """
        # /opt/uc-graph-connector/application.properties
        azure.activedirectory.clientId = 5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30
        azure.activedirectory.tenantId = 8d2a6c8e-4d1f-4c2e-9f3a-5b7e1c0d2a11
        azure.activedirectory.clientSecret = Qx8~s3cr3t.value-from-the-portal
        azure.activedirectory.technical.user.username = presence-tech1@contoso.com
        azure.activedirectory.technical.user.password = Technical-P4ssword!
        webhook.receiver = [https://facade.contoso.com:8443/graph/listen|https://facade.contoso.com:8443/graph/listen]]
        webhook.listener.http.url = [https://fe1.contoso.com:8443/owc-servlets/user/graph/notifications|https://fe1.contoso.com:8443/owc-servlets/user/graph/notifications]],[https://fe2.contoso.local:8443/owc-servlets/user/graph/notifications|https://fe2.contoso.local:8443/owc-servlets/user/graph/notifications]]
        """;

    private readonly string _data = Path.Combine(Path.GetTempPath(), $"presence-config-{Guid.NewGuid():N}");

    private IConfiguration Configuration(string properties, params (string Key, string? Value)[] overrides)
    {
        var parsed = PropertiesFile.Parse(properties, out var syntax);
        Assert.Empty(syntax);
        return new ConfigurationBuilder()
            .AddInMemoryCollection(parsed.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value)))
            .AddInMemoryCollection([KeyValuePair.Create("presence.dataFolder", (string?)_data), .. overrides.Select(o => KeyValuePair.Create(o.Key, o.Value))])
            .Build();
    }

    [Fact]
    public void Seed_example_loads_unchanged()
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample), out var problems);

        Assert.Empty(problems);
        Assert.NotNull(options);
        Assert.Equal("5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30", options.Graph.ClientId);
        Assert.Equal(new Uri("https://facade.contoso.com:8443/graph/listen"), options.WebhookReceiver);
        Assert.Equal(new Uri("https://facade.contoso.com:8443/graph/lifecycle"), options.LifecycleUrl);
        Assert.Equal(["fe1.contoso.com", "fe2.contoso.local"], options.FrontEnds.Urls.Select(u => u.Host));
        Assert.Equal("presence-tech1@contoso.com", Assert.Single(options.Graph.TechnicalAccounts).Username);
        Assert.True(options.EncryptionCertificate!.HasPrivateKey);
        Assert.Equal(32, options.ClientStateKey.Length);
        Assert.Equal(64, options.Graph.MaxConnections);
    }

    [Fact]
    public void Keys_and_certificates_made_by_the_service_are_owner_only_and_a_damaged_one_is_a_problem_naming_its_key()
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.encryption.certificatePassword", "pfx-Passw0rd")), out var problems);
        Assert.Empty(problems);
        foreach (var file in new[] { "client-state.key", "internal-api.key", "listener-tls.pfx", "encryption.pfx" })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(Path.Combine(_data, file)));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_data)); // the folder made for them too
        // The encryption PFX made with a password opens only with it.
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() =>
            System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(_data, "encryption.pfx"), null));
        Assert.True(options!.EncryptionCertificate!.HasPrivateKey);

        File.WriteAllText(Path.Combine(_data, "client-state.key"), "not base64 !!");
        Assert.Null(PresenceConfiguration.Load(Configuration(SeedExample, ("presence.encryption.certificatePassword", "pfx-Passw0rd")), out problems));
        Assert.Contains(problems, p => p.StartsWith("presence.clientState.key: the file", StringComparison.Ordinal) && p.Contains("client-state.key", StringComparison.Ordinal));

        File.WriteAllText(Path.Combine(_data, "client-state.key"), Convert.ToBase64String(new byte[32]));
        Assert.Null(PresenceConfiguration.Load(Configuration(SeedExample, ("presence.encryption.certificatePassword", "wrong-password")), out problems));
        var problem = Assert.Single(problems);
        Assert.StartsWith("presence.encryption.certificate: the file", problem);
        Assert.DoesNotContain("wrong-password", problem);
    }

    [Fact]
    public void Graph_connection_bound_is_configurable()
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.graph.maxConnections", "8")), out var problems);

        Assert.Empty(problems);
        Assert.Equal(8, options!.Graph.MaxConnections);
    }

    [Fact]
    public void More_technical_users_come_from_indexed_keys()
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample + """

            azure.activedirectory.technical.users[0].username = presence-tech2@contoso.com
            azure.activedirectory.technical.users[0].password = Second-P4ss
            azure.activedirectory.technical.users[1].username = presence-tech3@contoso.com
            azure.activedirectory.technical.users[1].password = Third-P4ss
            """), out var problems);
        Assert.Empty(problems);
        Assert.Equal(3, options!.Graph.TechnicalAccounts.Count);
    }

    [Fact]
    public void A_million_users_worth_of_technical_users_are_all_read_and_shown_with_their_passwords_hidden()
    {
        // 1,539 numbered technical users (a million users at 650 each): the numbering has no upper bound.
        var numbered = string.Join("\n", Enumerable.Range(0, 1_539).Select(n =>
            $"azure.activedirectory.technical.users[{n}].username = tech{n}@contoso.com\nazure.activedirectory.technical.users[{n}].password = P4ss-{n}"));
        var configuration = Configuration(SeedExample + "\n" + numbered);
        var options = PresenceConfiguration.Load(configuration, out var problems);
        Assert.Empty(problems);
        Assert.Equal(1_540, options!.Graph.TechnicalAccounts.Count);
        Assert.Equal("tech1538@contoso.com", options.Graph.TechnicalAccounts[^1].Username);

        var shown = PresenceConfiguration.Show(configuration);
        Assert.Contains(("azure.activedirectory.technical.users[1538].username", "tech1538@contoso.com"), shown);
        Assert.Contains(("azure.activedirectory.technical.users[1538].password", "********"), shown);
        Assert.DoesNotContain(shown, s => s.Value.StartsWith("P4ss-", StringComparison.Ordinal));
    }

    [Fact]
    public void More_applications_come_from_indexed_keys_and_a_bad_one_is_named_by_its_key()
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample + """

            azure.activedirectory.applications[0].clientId = 7a3e9c41-2b8d-4f6a-9e15-3c7d2a8b4f60
            azure.activedirectory.applications[0].clientSecret = Second~app.secret
            """), out var problems);
        Assert.Empty(problems);
        Assert.Equal(["5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30", "7a3e9c41-2b8d-4f6a-9e15-3c7d2a8b4f60"], options!.Graph.Applications.Select(a => a.ClientId));

        (string Lines, string Problem)[] bad =
        [
            ("azure.activedirectory.applications[0].clientSecret = Lonely~secret", "azure.activedirectory.applications[0].clientId is missing"),
            ("azure.activedirectory.applications[0].clientId = second-app", "azure.activedirectory.applications[0].clientId = 'second-app' is not a GUID"),
            ("azure.activedirectory.applications[0].clientId = 7a3e9c41-2b8d-4f6a-9e15-3c7d2a8b4f60", "azure.activedirectory.applications[0].clientSecret is missing"),
            ("azure.activedirectory.applications[0].clientId = 5F1C1B0E-5E8F-4A4E-9D2B-0C7A4D1E2F30\nazure.activedirectory.applications[0].clientSecret = Same~app",
                "application 5F1C1B0E-5E8F-4A4E-9D2B-0C7A4D1E2F30 is configured more than once"),
        ];
        foreach (var (lines, problem) in bad)
        {
            Assert.Null(PresenceConfiguration.Load(Configuration(SeedExample + "\n" + lines), out problems));
            Assert.Contains(problems, p => p.Contains(problem, StringComparison.Ordinal));
            Assert.DoesNotContain(problems, p => p.Contains("Lonely~secret", StringComparison.Ordinal) || p.Contains("Same~app", StringComparison.Ordinal));
        }
    }

    private const string ApiKey = "a-long-random-internal-api-key";

    [Fact]
    public void In_a_cluster_a_missing_internal_api_key_is_refused_naming_the_key()
    {
        var seeds = "akka.tcp://presence@node1:4053,akka.tcp://presence@node2:4053,akka.tcp://presence@node3:4053";
        var options = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.cluster.seedNodes", seeds), ("presence.cluster.publicHostname", "node1"),
            ("presence.clientState.key", Convert.ToBase64String(new byte[32]))), out var problems);
        Assert.Null(options);
        Assert.Contains(problems, p => p.StartsWith("presence.api.key is missing", StringComparison.Ordinal) && p.Contains("every node", StringComparison.Ordinal));
    }

    [Fact]
    public void A_seed_list_without_this_node_is_a_warning_naming_the_key_and_the_node()
    {
        const string key = "presence.clientState.key";
        var sharedKey = Convert.ToBase64String(new byte[32]);
        var all = "akka.tcp://presence@node1:4053,akka.tcp://presence@node2:4053,akka.tcp://presence@node3:4053";

        var listed = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.cluster.seedNodes", all), ("presence.cluster.publicHostname", "node3"), (key, sharedKey), ("presence.api.key", ApiKey)), out var problems);
        Assert.Empty(problems);
        Assert.DoesNotContain(listed!.Warnings, w => w.Contains("presence.cluster.seedNodes", StringComparison.Ordinal));

        var shortList = "akka.tcp://presence@node1:4053,akka.tcp://presence@node2:4053";
        var unlisted = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.cluster.seedNodes", shortList), ("presence.cluster.publicHostname", "node3"), (key, sharedKey), ("presence.api.key", ApiKey)), out problems);
        Assert.Empty(problems);
        var warning = Assert.Single(unlisted!.Warnings, w => w.Contains("presence.cluster.seedNodes", StringComparison.Ordinal));
        Assert.Contains("akka.tcp://presence@node3:4053", warning);
        Assert.Contains("list every Facade node", warning);
        Assert.Contains("once 2 members are together", warning);
    }

    [Theory]
    [InlineData("azure.activedirectory.tenantId")]
    [InlineData("azure.activedirectory.clientId")]
    [InlineData("azure.activedirectory.clientSecret")]
    [InlineData("webhook.receiver")]
    [InlineData("webhook.listener.http.url")]
    [InlineData("azure.activedirectory.technical.user.username")]
    [InlineData("azure.activedirectory.technical.user.password")]
    public void Each_missing_key_gives_one_message_naming_it(string key)
    {
        var without = string.Join('\n', SeedExample.Split('\n').Where(line => !line.TrimStart().StartsWith(key + " ")));
        var options = PresenceConfiguration.Load(Configuration(without), out var problems);
        Assert.Null(options);
        var problem = Assert.Single(problems);
        Assert.Contains(key.Replace(".username", "").Replace(".password", ""), problem);
    }

    [Theory]
    [InlineData("azure.activedirectory.clientId", "not-a-guid")]
    [InlineData("webhook.receiver", "http://facade:8443/graph/listen")]
    [InlineData("presence.session.ttl", "00:04:00")]
    [InlineData("presence.webhook.port", "99999")]
    [InlineData("presence.persistence.provider", "Oracle")]
    [InlineData("presence.callActivities", "InACall,OnThePhone")]
    [InlineData("presence.cluster.seedNodes", "node1:4053")]
    [InlineData("presence.cluster.upWithin", "00:00:02")]
    [InlineData("presence.tls.minimumVersion", "1.0")]
    [InlineData("presence.logging.json", "yes")]
    [InlineData("presence.graph.maxConnections", "0")]
    [InlineData("presence.webhook.rateLimitPerSecond", "fast")]
    [InlineData("presence.graph.presenceBudget", "-5")]
    [InlineData("presence.session.refresh", "soon")]
    [InlineData("presence.ingress.maxBacklog", "lots")]
    [InlineData("presence.cluster.stableAfter", "00:10:00")]
    [InlineData("presence.admin.address", "facade.local")]
    [InlineData("presence.admin.open", "metrics,status")]
    [InlineData("presence.webhook.trustedProxies", "10.0.0.5,haproxy.local")]
    [InlineData("presence.clientState.previousKeys", "c2hvcnQ=")]
    [InlineData("presence.clientState.previousKeys", "not base64 at all!")]
    public void Each_invalid_value_gives_one_message_naming_its_key(string key, string value)
    {
        var options = PresenceConfiguration.Load(Configuration(SeedExample, (key, value)), out var problems);
        Assert.Null(options);
        Assert.Contains(problems, p => p.Contains(key));
        Assert.Single(problems, p => p.Contains(key));
        if (PresenceConfiguration.SecretKeys.Contains(key))
            Assert.DoesNotContain(problems, p => p.Contains(value, StringComparison.Ordinal)); // a secret's value is never echoed
    }

    [Fact]
    public void An_admin_port_beyond_loopback_needs_the_admin_token_and_serves_tls()
    {
        var refused = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.admin.address", "0.0.0.0")), out var problems);
        Assert.Null(refused);
        Assert.Contains(problems, p => p.StartsWith("presence.admin.token is missing", StringComparison.Ordinal) && p.Contains("0.0.0.0"));

        var options = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.admin.address", "0.0.0.0"), ("presence.admin.token", "a-long-admin-token")), out problems);
        Assert.Empty(problems);
        Assert.Equal(System.Net.IPAddress.Any, options!.Admin.Address);
        Assert.NotNull(options.Admin.Certificate);

        var opened = PresenceConfiguration.Load(Configuration(SeedExample, ("presence.admin.open", "Metrics, health"),
            ("presence.webhook.trustedProxies", "10.0.0.5, 10.1.0.0/16, fd00::/64")), out problems);
        Assert.Empty(problems);
        Assert.Equal(["health", "metrics"], opened!.AdminOpen.Order());
        Assert.Equal(["10.0.0.5/32", "10.1.0.0/16", "fd00::/64"], opened.WebhookTrustedProxies.Select(n => n.ToString()));

        var local = PresenceConfiguration.Load(Configuration(SeedExample), out _);
        Assert.Empty(local!.AdminOpen);
        Assert.Empty(local.WebhookTrustedProxies);
        Assert.Equal(System.Net.IPAddress.Loopback, local!.Admin.Address);
        Assert.Null(local.Admin.Certificate);
        Assert.Equal(1500, local.Graph.PresenceBudget);
    }

    [Fact]
    public void Config_show_never_prints_a_secret()
    {
        var configuration = Configuration(SeedExample, ("presence.api.key", "a-very-long-internal-api-key-0123"));
        var shown = PresenceConfiguration.Show(configuration);
        var text = string.Join('\n', shown.Select(s => $"{s.Key} = {s.Value}"));

        foreach (var secret in new[] { "Qx8~s3cr3t.value-from-the-portal", "Technical-P4ssword!", "a-very-long-internal-api-key-0123" })
            Assert.DoesNotContain(secret, text);
        Assert.Contains("azure.activedirectory.clientSecret = ********", text);
        Assert.Contains("azure.activedirectory.clientId = 5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30", text);
    }

    [Fact]
    public void Properties_syntax_follows_java_properties()
    {
        var parsed = PropertiesFile.Parse("""
            ! a comment
            a.b = one
            c.d: two
            e.f   three
            long.value = first,\
                second
            escaped = tab\tand\u00e9
            = a value without a key
            spaced key value
            """, out var problems);
        Assert.Equal("one", parsed["a.b"]);
        Assert.Equal("two", parsed["c.d"]);
        Assert.Equal("three", parsed["e.f"]);
        Assert.Equal("first,second", parsed["long.value"]);
        Assert.Equal("tab\tandé", parsed["escaped"]);
        Assert.Equal("key value", parsed["spaced"]); // as Java reads it: whitespace separates key and value
        Assert.Single(problems);
        Assert.Contains("line 8", problems[0]); // the continuation counts as two lines
    }

    public void Dispose()
    {
        if (Directory.Exists(_data))
            Directory.Delete(_data, recursive: true);
    }
}

/// <summary>The operator guide documents exactly the keys the code reads.</summary>
public class OperatorGuideTests
{
    [Fact]
    public void Operator_guide_lists_every_configuration_key_with_its_default()
    {
        var guide = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "operator-guide.md"));
        foreach (var (key, fallback, _, _) in PresenceConfiguration.Keys)
        {
            Assert.Contains($"| `{key}` |", guide);
            Assert.Contains($"| `{key}` | {(fallback.Length == 0 ? "(none)" : fallback)} |", guide);
        }

        var documented = System.Text.RegularExpressions.Regex.Matches(guide, @"^\| `([a-z.\[\]A-Z]+)` \|", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(PresenceConfiguration.Keys.Select(k => k.Key).Order(), documented.Order());
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}
