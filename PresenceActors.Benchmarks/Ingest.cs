using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PresenceActors.Simulators.Graph;
using PresenceActors.Webhooks;

namespace PresenceActors.Benchmarks;

/// <param name="Repeated">Items the webhook dropped as repeats during the run (a generator that ran out of distinct bodies).</param>
internal sealed record IngestResult(string Name, int Batch, double RequestsPerSecond, double ItemsPerSecond, long Errors, long Repeated = 0);

/// <summary>
/// B1: requests/s of /graph/listen (valid clientState, real user actors, persistence on) against a bare Kestrel endpoint
/// that only answers 202, with the same generator over the same transport (HTTPS on loopback), side by side in one run.
/// The generator is wrk when it is installed (a separate process, as the issue asks), the built-in one otherwise.
/// </summary>
internal static class Ingest
{
    public static async Task<List<IngestResult>> RunAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int seconds, int connections, string? wrk)
    {
        var results = new List<IngestResult>();
        var subscription = rig.Graph.Tenant.SubscriptionsWatching(users[0].TeamsId).Single();
        var token = rig.Graph.Delivery.ValidationToken(Rig.ClientId);
        var (bareApp, bareUrl) = await BareKestrelAsync(rig.Tls);
        var sequence = 1_000_000_000L;
        var metrics = rig.Service!.Services.GetRequiredService<WebhookMetrics>();
        foreach (var batch in new[] { 1, 10 })
        {
            // Distinct items (Graph never repeats one; the webhook drops repeats), alternating Available and Away: each one is a
            // real state change that the user's actor journals, with no UC or Graph effect (rule T3). Enough for 2,000
            // items/s, more than the gateway has taken in any run here; repeats are counted and reported all the same.
            var bodies = BuildBodies(rig, users, subscription, token, batch, Math.Max(1_000, seconds * 2_000 / batch), ref sequence);
            var gatewayUrl = new Uri($"https://127.0.0.1:{rig.WebhookPort}/graph/listen");
            Console.Error.WriteLine($"B1: bare Kestrel, {batch} item(s)/POST, {seconds} s");
            var bare = wrk is null ? await LoadAsync(bareUrl, bodies, seconds, connections) : await Wrk.LoadAsync(wrk, bareUrl, bodies, seconds, connections);
            results.Add(new IngestResult($"bare Kestrel 202, {batch} item(s)/POST", batch, bare.Rps, bare.Rps * batch, bare.Errors));
            var repeatsBefore = metrics.DroppedFor("duplicate");
            Console.Error.WriteLine($"B1: /graph/listen, {batch} item(s)/POST, {seconds} s");
            var gateway = wrk is null ? await LoadAsync(gatewayUrl, bodies, seconds, connections) : await Wrk.LoadAsync(wrk, gatewayUrl, bodies, seconds, connections);
            results.Add(new IngestResult($"/graph/listen, {batch} item(s)/POST", batch, gateway.Rps, gateway.Rps * batch, gateway.Errors,
                metrics.DroppedFor("duplicate") - repeatsBefore));
            // What the webhook took in is processed before the next run, which would otherwise share the cores with it.
            await IngestFlow.DrainAsync(rig, TimeSpan.FromMinutes(5));
        }

        await bareApp.StopAsync();
        await bareApp.DisposeAsync();
        return results;
    }

    /// <summary>What one item's data-key decryption costs on this machine (the floor of the webhook's CPU per notification).</summary>
    public static double RsaDecryptMicroseconds()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var encrypted = rsa.Encrypt(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), System.Security.Cryptography.RSAEncryptionPadding.OaepSHA1);
        for (var i = 0; i < 200; i++)
            rsa.Decrypt(encrypted, System.Security.Cryptography.RSAEncryptionPadding.OaepSHA1);
        const int n = 2_000;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
            rsa.Decrypt(encrypted, System.Security.Cryptography.RSAEncryptionPadding.OaepSHA1);
        return clock.Elapsed.TotalMicroseconds / n;
    }

    internal static List<byte[]> BuildBodies(Rig rig, List<(string UcUserId, string TeamsId)> users, SimSubscription subscription, string token, int batch, int count, ref long sequence)
    {
        var list = new List<byte[]>(count);
        var watched = users.Where(u => subscription.UserIds.Contains(u.TeamsId)).Select(u => u.TeamsId).ToList();
        for (var n = 0; n < count; n++)
        {
            var items = new JsonArray();
            for (var k = 0; k < batch; k++)
            {
                var userId = watched[(n * batch + k) % watched.Count];
                sequence++;
                var state = sequence % 2 == 0 ? "Available" : "Away";
                var presence = $$"""{"id":"{{userId}}","availability":"{{state}}","activity":"{{state}}","sequenceNumber":"{{sequence:D20}}"}""";
                items.Add(new JsonObject
                {
                    ["subscriptionId"] = subscription.Id,
                    ["changeType"] = "updated",
                    ["clientState"] = subscription.ClientState,
                    ["tenantId"] = rig.Graph.Tenant.TenantId,
                    ["resource"] = $"communications/presences('{userId}')",
                    ["resourceData"] = new JsonObject { ["id"] = userId },
                    ["encryptedContent"] = NotificationDelivery.Encrypt(Encoding.UTF8.GetBytes(presence), rig.Encryption, EncryptionCertificates.IdOf(rig.Encryption)),
                });
            }

            list.Add(Encoding.UTF8.GetBytes(new JsonObject { ["value"] = items, ["validationTokens"] = new JsonArray(token) }.ToJsonString()));
        }

        return list;
    }

    internal static async Task<(double Rps, long Errors)> LoadAsync(Uri url, List<byte[]> bodies, int seconds, int connections)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        });
        var next = -1;
        long done = 0, errors = 0;
        var stop = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            while (DateTime.UtcNow < stop)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= bodies.Count)
                    break; // every body is used once: a repeated one would be dropped as a duplicate
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                try
                {
                    using var response = await http.PostAsync(url, content);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                        Interlocked.Increment(ref done);
                    else
                        Interlocked.Increment(ref errors);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }));
        return (done / clock.Elapsed.TotalSeconds, errors);
    }

    private static async Task<(WebApplication App, Uri Url)> BareKestrelAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 tls)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(tls)));
        var app = builder.Build();
        app.MapPost("/graph/listen", () => Results.Accepted());
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("localhost", "127.0.0.1");
        return (app, new Uri($"{address}/graph/listen"));
    }
}
