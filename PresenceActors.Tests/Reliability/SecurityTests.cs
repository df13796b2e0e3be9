using System.ComponentModel;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using PresenceActors.Host.Configuration;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>Mutual TLS on the internal API, the webhook's per-source rate limit, TLS 1.2 or newer, private key files.</summary>
public class SecurityTests : IAsyncLifetime
{
    private static readonly X509Certificate2 BackEnd = ClientCertificate("UC back end");
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(adjust: o => o with
    {
        InternalApiClientCertificates = [BackEnd.GetCertHashString(HashAlgorithmName.SHA256)],
        WebhookRequestsPerSource = 40,
        WebhookRateWindow = TimeSpan.FromMinutes(5), // one window for the whole test, whatever the machine's speed
    });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private static X509Certificate2 ClientCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
    }

    private HttpClient Api(X509Certificate2? certificate)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        if (certificate is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(certificate);
        }

        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/") };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Loop.ApiKey);
        return http;
    }

    [Fact]
    public async Task Internal_api_with_client_certificates_configured_needs_the_pinned_certificate_and_the_key()
    {
        using (var none = Api(null))
        {
            var refused = await none.GetAsync("users/anyone");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("\"field\":\"client certificate\"", await refused.Content.ReadAsStringAsync());
        }

        using (var stranger = Api(ClientCertificate("someone else")))
        {
            var refused = await stranger.GetAsync("users/anyone");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("is not one of presence.api.clientCertificates", await refused.Content.ReadAsStringAsync());
        }

        using var backEnd = Api(BackEnd);
        Assert.Equal(HttpStatusCode.NotFound, (await backEnd.GetAsync("users/anyone")).StatusCode); // past authentication: nobody by that id
        backEnd.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await backEnd.GetAsync("users/anyone")).StatusCode); // the certificate alone is not enough
    }

    [Fact]
    public async Task Webhook_answers_429_with_retry_after_once_one_source_exceeds_its_rate_whatever_address_an_untrusted_peer_forwards()
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 60; i++)
        {
            // A forwarded address from a peer that presence.webhook.trustedProxies does not name is not believed: every
            // request counts against the connection's own address.
            using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_loop.Ports.Webhook}/graph/listen?validationToken=t{i}");
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{i + 1}");
            var response = await http.SendAsync(request);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                limited ??= response;
        }

        Assert.Equal(40, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.NotNull(limited!.Headers.RetryAfter);
        Assert.Contains("\"field\":\"source\"", await limited.Content.ReadAsStringAsync());
        // The limit is the public webhook's alone: the internal API still answers the same address.
        using var api = Api(BackEnd);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("users/anyone")).StatusCode);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12, true)]
    [InlineData(SslProtocols.Tls13, true)]
#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1 are obsolete: that is the point of offering them
    [InlineData(SslProtocols.Tls11, false)]
    [InlineData(SslProtocols.Tls, false)]
#pragma warning restore SYSLIB0039
    public async Task Listeners_speak_tls_1_2_or_newer_only(SslProtocols offered, bool accepted)
    {
        foreach (var port in new[] { _loop.Ports.Webhook, _loop.Ports.InternalApi })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
            var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", EnabledSslProtocols = offered });
            if (accepted)
            {
                await handshake;
                Assert.Equal(offered, tls.SslProtocol);
            }
            else
            {
                var failure = await Record.ExceptionAsync(() => handshake);
                Assert.True(failure is AuthenticationException or IOException or Win32Exception, $"a {offered} handshake on port {port} should fail: {failure}");
            }
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_private_key_file_readable_by_others_is_reported_with_the_fix()
    {
        var data = Directory.CreateTempSubdirectory("presence-key-mode").FullName;
        try
        {
            var pfx = Path.Combine(data, "encryption.pfx");
            EncryptionCertificates.LoadOrCreate(pfx).Dispose();
            Assert.Null(EncryptionCertificates.ExposureOf(pfx)); // made private

            File.SetUnixFileMode(pfx, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["azure.activedirectory.tenantId"] = "8d2a6c8e-4d1f-4c2e-9f3a-5b7e1c0d2a11",
                ["azure.activedirectory.clientId"] = "5f1c1b0e-5e8f-4a4e-9d2b-0c7a4d1e2f30",
                ["azure.activedirectory.clientSecret"] = "not-a-real-secret",
                ["azure.activedirectory.technical.user.username"] = "presence-tech1@contoso.com",
                ["azure.activedirectory.technical.user.password"] = "not-a-real-password",
                ["webhook.receiver"] = "https://facade.contoso.com:8443/graph/listen",
                ["webhook.listener.http.url"] = "https://fe1.contoso.com:8443/owc-servlets/user/graph/notifications",
                ["presence.dataFolder"] = data,
            }).Build();
            var options = PresenceConfiguration.Load(configuration, out var problems);
            Assert.Empty(problems);
            var warning = Assert.Single(options!.Warnings);
            Assert.Contains(pfx, warning);
            Assert.Contains("mode 644", warning);
            Assert.Contains("chmod 600", warning);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
