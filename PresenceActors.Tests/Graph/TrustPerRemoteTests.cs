using Microsoft.Extensions.Configuration;
using PresenceActors.Graph;
using PresenceActors.Host.Configuration;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using Xunit;

namespace PresenceActors.Tests.Graph;

/// <summary>
/// Each remote has its own trust: a certificate trusted for the UC front ends (or for Graph) does not vouch for Entra ID,
/// where the technical users' passwords go. The simulator's self-signed certificate stands in for an interceptor's.
/// </summary>
public class TrustPerRemoteTests
{
    private const string ClientId = "3d1f2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b";
    private const string Secret = "trust-secret~0123456789abcdef";

    [Fact]
    public async Task Entra_sign_in_trusts_only_what_is_configured_for_Entra()
    {
        await using var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions());
        graph.Tenant.AddApplication(ClientId, Secret);
        GraphOptions Options(bool trustForEntra) => new()
        {
            TenantId = graph.Tenant.TenantId, ClientId = ClientId, ClientSecret = Secret, AuthorityHost = graph.AuthorityHost, GraphBaseUrl = graph.GraphUrl,
            TrustedCertificates = [graph.Certificate],
            EntraTrustedCertificates = trustForEntra ? [graph.Certificate] : [],
        };

        using (var trustedForGraphOnly = new GraphGateway(Options(trustForEntra: false)))
        {
            var refused = await trustedForGraphOnly.CheckSignInAsync(null, CancellationToken.None);
            Assert.NotNull(refused); // the TLS handshake with "Entra" failed: no secret was sent
        }

        using var trusted = new GraphGateway(Options(trustForEntra: true));
        Assert.Null(await trusted.CheckSignInAsync(null, CancellationToken.None));
    }

    [Fact]
    public void Each_trust_key_reaches_only_its_remote_and_a_file_that_is_no_certificate_is_a_problem_naming_the_key()
    {
        var folder = Directory.CreateTempSubdirectory("presence-trust-").FullName;
        try
        {
            using var certificate = PresenceActors.Webhooks.EncryptionCertificates.Create(DateTimeOffset.UtcNow);
            var pem = Path.Combine(folder, "front-end-ca.pem");
            File.WriteAllText(pem, SimulatorCertificate.ToPem(certificate));
            var broken = Path.Combine(folder, "broken.pem");
            File.WriteAllText(broken, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");

            IConfiguration Configuration(params (string, string)[] extra) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["azure.activedirectory.tenantId"] = "8d2a6c8e-4d1f-4c2e-9f3a-5b7e1c0d2a11",
                ["azure.activedirectory.clientId"] = ClientId,
                ["azure.activedirectory.clientSecret"] = Secret,
                ["azure.activedirectory.technical.user.username"] = "tech@contoso.com",
                ["azure.activedirectory.technical.user.password"] = "Technical-P4ss",
                ["webhook.receiver"] = "https://facade.contoso.com/graph/listen",
                ["webhook.listener.http.url"] = "https://fe1.contoso.com/owc-servlets/user/graph/notifications",
                ["presence.dataFolder"] = Path.Combine(folder, "data"),
            }.Concat(extra.Select(e => KeyValuePair.Create(e.Item1, (string?)e.Item2)))).Build();

            // Each key, alone, reaches its own remote and no other.
            foreach (var (key, entra, graph, frontEnds) in new[]
                     {
                         ("presence.tls.trust.frontEnds", 0, 0, 1), ("presence.tls.trust.graph", 0, 1, 0), ("presence.tls.trust.entra", 1, 0, 0),
                     })
            {
                var options = PresenceConfiguration.Load(Configuration((key, pem)), out var found);
                Assert.Empty(found);
                Assert.Equal((entra, graph, frontEnds), (options!.Graph.EntraTrustedCertificates.Count, options.Graph.TrustedCertificates.Count, options.FrontEnds.TrustedCertificates.Count));
                Assert.All(options.Graph.EntraTrustedCertificates.Concat(options.Graph.TrustedCertificates).Concat(options.FrontEnds.TrustedCertificates),
                    c => Assert.Equal(certificate.Thumbprint, c.Thumbprint));
            }

            List<string> problems;

            Assert.Null(PresenceConfiguration.Load(Configuration(("presence.tls.trust.entra", broken)), out problems));
            Assert.Equal($"presence.tls.trust.entra: file '{broken}' is not a certificate (PEM or DER).", Assert.Single(problems));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
