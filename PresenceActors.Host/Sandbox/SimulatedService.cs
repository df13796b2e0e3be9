using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PresenceActors.Cluster;
using PresenceActors.Graph;
using PresenceActors.Persistence;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.UcFrontEnd;

namespace PresenceActors.Host.Sandbox;

/// <summary>
/// The options of a node pointed at the simulators (trusting exactly their certificates), all on 127.0.0.1: used by the
/// sandbox, the benchmarks and the end-to-end tests, so that they run the same wiring.
/// </summary>
public static class SimulatedService
{
    public sealed record Listen(int Webhook, int InternalApi = 0, int Admin = 0, int Remoting = 0);

    public static PresenceServiceOptions Options(
        GraphSimulator graph, string clientId, string clientSecret, IReadOnlyList<TechnicalAccountCredentials> accounts,
        UcSimulator uc, string apiKey, string database, X509Certificate2 encryption, Listen listen)
    {
        var tls = SimulatorCertificate.Create("PresenceActors service");
        return new PresenceServiceOptions
        {
            Node = new PresenceNodeOptions
            {
                Cluster = new PresenceClusterOptions { Port = listen.Remoting },
                Persistence = new PresencePersistenceOptions { ConnectionString = database },
            },
            Graph = new GraphOptions
            {
                TenantId = graph.Tenant.TenantId,
                ClientId = clientId,
                ClientSecret = clientSecret,
                AuthorityHost = graph.AuthorityHost,
                GraphBaseUrl = graph.GraphUrl,
                TechnicalAccounts = accounts,
                TrustedCertificates = [graph.Certificate],
                EntraTrustedCertificates = [graph.Certificate], // the simulator plays Entra too
            },
            FrontEnds = new UcFrontEndOptions { Urls = uc.FrontEndUrls, TrustedCertificates = [uc.Certificate] },
            WebhookReceiver = new Uri($"https://127.0.0.1:{listen.Webhook}/graph/listen"),
            Webhook = new ListenerOptions { Address = IPAddress.Loopback, Port = listen.Webhook, Certificate = tls },
            InternalApi = new ListenerOptions { Address = IPAddress.Loopback, Port = listen.InternalApi, Certificate = tls },
            Admin = new ListenerOptions { Address = IPAddress.Loopback, Port = listen.Admin },
            InternalApiKey = apiKey,
            ClientStateKey = RandomNumberGenerator.GetBytes(32),
            EncryptionCertificate = encryption,
            OpenIdConfiguration = graph.OpenIdConfigurationUrl,
            MembershipDebounce = TimeSpan.FromMilliseconds(300),
        };
    }
}
