using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.Graph;
using Microsoft.Kiota.Authentication.Azure;
using PresenceActors.Simulators.Graph;

namespace PresenceActors.Tests.Support;

/// <summary>A Graph simulator with one application and a technical user, plus the real SDK clients pointed at it.</summary>
internal sealed class SimulatedTenant : IAsyncDisposable
{
    public const string ClientId = "6a0c3f4e-1b2d-4c5e-8f90-a1b2c3d4e5f6";
    public const string ClientSecret = "test-secret~0123456789";
    public const string TechnicalUser = "tech1@contoso.com";
    public const string TechnicalPassword = "Technical-Pa55!";

    private SimulatedTenant(GraphSimulator sim, SimUser technical)
    {
        Sim = sim;
        Technical = technical;
    }

    public GraphSimulator Sim { get; }

    public SimUser Technical { get; }

    public static async Task<SimulatedTenant> StartAsync(bool rateLimits = true)
    {
        var sim = await GraphSimulator.StartAsync(new GraphSimulatorOptions { RateLimits = rateLimits });
        sim.Tenant.AddApplication(ClientId, ClientSecret);
        var technical = sim.Tenant.AddUser(TechnicalUser, "Technical user", password: TechnicalPassword, technical: true);
        return new SimulatedTenant(sim, technical);
    }

    public ClientSecretCredential AppCredential(string? secret = null) => new(
        Sim.Tenant.TenantId, ClientId, secret ?? ClientSecret,
        new ClientSecretCredentialOptions { AuthorityHost = Sim.AuthorityHost, DisableInstanceDiscovery = true, Transport = Transport() });

#pragma warning disable CS0618 // UsernamePasswordCredential is obsolete (no MFA) but is what a technical user signs in with here.
    public TokenCredential UserCredential(string username = TechnicalUser, string password = TechnicalPassword) =>
        new UsernamePasswordCredential(username, password, Sim.Tenant.TenantId, ClientId,
            new UsernamePasswordCredentialOptions { AuthorityHost = Sim.AuthorityHost, DisableInstanceDiscovery = true, Transport = Transport() });
#pragma warning restore CS0618

    /// <summary>The real GraphServiceClient with the SDK's default middleware (retry, redirect) over a handler that trusts the simulator.</summary>
    public GraphServiceClient Graph(TokenCredential credential)
    {
        var http = GraphClientFactory.Create(GraphClientFactory.CreateDefaultHandlers(), finalHandler: Sim.CreateTrustingHandler());
        var auth = new AzureIdentityAuthenticationProvider(credential, allowedHosts: ["127.0.0.1"], scopes: ["https://graph.microsoft.com/.default"]);
        return new GraphServiceClient(http, auth, Sim.GraphUrl.ToString().TrimEnd('/'));
    }

    private HttpClientTransport Transport() => new(Sim.CreateTrustingHandler());

    /// <summary>A presence subscription request as the SDK sends it; rich (encrypted) when a certificate is given.</summary>
    /// <summary>
    /// A presence subscription as the service makes it. Optional properties are left out rather than set to null: the
    /// SDK sometimes writes a property set to null twice (msgraph-sdk-dotnet#2768), which Graph refuses.
    /// </summary>
    public static Microsoft.Graph.Models.Subscription PresenceSubscription(IEnumerable<string> userIds, WebhookReceiver receiver,
        string clientState = "s", X509Certificate2? encryptFor = null, string certificateId = "c1", bool lifecycle = false, int minutes = 30)
    {
        var subscription = new Microsoft.Graph.Models.Subscription
        {
            ChangeType = "updated",
            Resource = $"/communications/presences?$filter=id in ({string.Join(",", userIds.Select(u => $"'{u}'"))})",
            NotificationUrl = receiver.NotificationUrl,
            ExpirationDateTime = DateTimeOffset.UtcNow.AddMinutes(minutes),
            ClientState = clientState,
            IncludeResourceData = encryptFor is not null,
        };
        if (lifecycle)
            subscription.LifecycleNotificationUrl = receiver.LifecycleUrl;
        if (encryptFor is not null)
        {
            subscription.EncryptionCertificate = Convert.ToBase64String(encryptFor.Export(X509ContentType.Cert));
            subscription.EncryptionCertificateId = certificateId;
        }

        return subscription;
    }

    public static X509Certificate2 EncryptionCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=presence-encryption", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null, X509KeyStorageFlags.Exportable);
    }

    public ValueTask DisposeAsync() => Sim.DisposeAsync();
}
