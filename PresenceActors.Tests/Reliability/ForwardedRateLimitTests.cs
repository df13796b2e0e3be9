using System.Net;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Behind HAProxy every request arrives from the proxy: the webhook's per-source limit keys on the client address the
/// proxy forwards, believed only from presence.webhook.trustedProxies (docs/operator-guide.md, "HAProxy in front").
/// </summary>
public class ForwardedRateLimitTests : IAsyncLifetime
{
    private Loop _loop = null!;

    // The test's own connection (127.0.0.1) plays the proxy.
    public async Task InitializeAsync() => _loop = await Loop.StartAsync(adjust: o => o with
    {
        WebhookTrustedProxies = [System.Net.IPNetwork.Parse("127.0.0.1/32")],
        WebhookRequestsPerSource = 5,
        WebhookRateWindow = TimeSpan.FromMinutes(5), // one window for the whole test, whatever the machine's speed
    });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private async Task<HttpStatusCode> HandshakeFrom(HttpClient http, string? client, int n)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_loop.Ports.Webhook}/graph/listen?validationToken=t{n}");
        if (client is not null)
            request.Headers.Add("X-Forwarded-For", client);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Each_forwarded_client_has_its_own_bucket_behind_a_trusted_proxy()
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var first = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
            first.Add(await HandshakeFrom(http, "203.0.113.7", i));
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], first);

        // Another client behind the same proxy, and the proxy's own requests (no header), are not held by the first.
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.OK, await HandshakeFrom(http, "203.0.113.8", 10 + i));
        Assert.Equal(HttpStatusCode.TooManyRequests, await HandshakeFrom(http, "203.0.113.8", 20));
        Assert.Equal(HttpStatusCode.OK, await HandshakeFrom(http, null, 30));
        // HAProxy appends the address it saw to what the client sent: only that last one counts, so a client cannot
        // pick a fresh bucket by sending a header of its own.
        Assert.Equal(HttpStatusCode.TooManyRequests, await HandshakeFrom(http, "192.0.2.99, 203.0.113.7", 40));
    }
}

/// <summary>
/// ASP.NET Core believes X-Forwarded-For from loopback proxies by default; that default is cleared, so with another
/// proxy configured a loopback peer's header is not believed either.
/// </summary>
public class ForwardedRateLimitUntrustedLoopbackTests : IAsyncLifetime
{
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(adjust: o => o with
    {
        WebhookTrustedProxies = [System.Net.IPNetwork.Parse("10.9.9.9/32")],
        WebhookRequestsPerSource = 5,
        WebhookRateWindow = TimeSpan.FromMinutes(5),
    });

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    [Fact]
    public async Task A_loopback_peer_not_named_as_a_proxy_is_limited_by_its_own_address_whatever_it_forwards()
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_loop.Ports.Webhook}/graph/listen?validationToken=t{i}");
            request.Headers.Add("X-Forwarded-For", $"203.0.113.{i + 1}");
            using var response = await http.SendAsync(request);
            answers.Add(response.StatusCode);
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 3)], answers);
    }
}
