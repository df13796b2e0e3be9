using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PresenceActors.Graph;
using PresenceActors.Host;
using PresenceActors.Host.Sandbox;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Webhooks;

// B1 (webhook ingest against bare Kestrel), measured side by side in one run with the same built-in load generator.
// Usage: dotnet run -c Release --project PresenceActors.Benchmarks -- [--quick] [--seconds N] [--connections N]
var quick = args.Contains("--quick");
var seconds = IntOption("--seconds", quick ? 5 : 20);
var connections = IntOption("--connections", 32);
var results = new List<(string Name, double RequestsPerSecond, double ItemsPerSecond, long Errors)>();

const string clientId = "b1c2d3e4-0000-4000-8000-000000000001";
await using var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions { RateLimits = false });
graph.Tenant.AddApplication(clientId, "bench-secret");
graph.Tenant.AddUser("bench-tech@contoso.com", password: "Bench-P4ss", technical: true);
var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
await using var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApiKey = apiKey });
var data = Path.Combine(Path.GetTempPath(), $"presence-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(data);
var webhookPort = FreePort();
var encryption = EncryptionCertificates.LoadOrCreate(Path.Combine(data, "encryption.pfx"));
var options = SimulatedService.Options(graph, clientId, "bench-secret", [new TechnicalAccountCredentials("bench-tech@contoso.com", "Bench-P4ss")],
    uc, apiKey, Path.Combine(data, "presence.db"), encryption, new SimulatedService.Listen(webhookPort));
var tls = options.Webhook.Certificate!;
await using var service = PresenceService.Build(options, configure: b => b.Logging.SetMinimumLevel(LogLevel.Error));
await service.StartAsync();
uc.ServiceApi = new Uri($"https://127.0.0.1:{service.Services.GetRequiredService<ListenerPorts>().InternalApi}/");

// 200 registered users behind one subscription.
var users = new List<string>();
for (var i = 0; i < 200; i++)
{
    var user = graph.Tenant.AddUser($"bench{i}@contoso.com");
    uc.AddUser($"uc-bench-{i}");
    await uc.RegisterAsync($"uc-bench-{i}", user.UserPrincipalName);
    users.Add(user.Id);
}

var watch = Stopwatch.StartNew();
while (graph.Tenant.SubscriptionsWatching(users[^1]).Count == 0 && watch.Elapsed < TimeSpan.FromSeconds(60))
    await Task.Delay(50); // a console program waiting for the subscription, not a test
var subscription = graph.Tenant.SubscriptionsWatching(users[0]).Single();
var token = graph.Delivery.ValidationToken(clientId);
var (bareApp, bareUrl) = await BareKestrelAsync(tls);

foreach (var batch in new[] { 1, 10 })
{
    // Distinct items (Graph never repeats one; the webhook drops repeats), alternating Available and Away: each one is a
    // real state change that the user's actor journals, with no UC or Graph effect (rule T3).
    var bodies = BuildBodies(batch, 20_000 / batch);
    var bareResult = await LoadAsync(bareUrl, bodies, seconds, connections);
    results.Add(($"bare Kestrel 202, {batch} item(s)/POST", bareResult.Rps, bareResult.Rps * batch, bareResult.Errors));
    var gatewayResult = await LoadAsync(new Uri($"https://127.0.0.1:{webhookPort}/graph/listen"), bodies, seconds, connections);
    results.Add(($"/graph/listen, {batch} item(s)/POST", gatewayResult.Rps, gatewayResult.Rps * batch, gatewayResult.Errors));
}

Console.WriteLine();
Console.WriteLine($"B1 ingest, built-in generator (HttpClient, {connections} connections, HTTP/1.1 over TLS, {seconds} s each), {Environment.ProcessorCount} cores");
Console.WriteLine("| run | requests/s | notifications/s | errors |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
foreach (var r in results)
    Console.WriteLine($"| {r.Name} | {r.RequestsPerSecond:0} | {r.ItemsPerSecond:0} | {r.Errors} |");
var ratio1 = results[1].RequestsPerSecond / results[0].RequestsPerSecond;
var ratio10 = results[3].RequestsPerSecond / results[2].RequestsPerSecond;
Console.WriteLine(JsonSerializer.Serialize(new { benchmark = "B1", generator = "built-in", seconds, connections, results = results.Select(r => new { r.Name, r.RequestsPerSecond, r.ItemsPerSecond, r.Errors }), ratio1, ratio10 }));
Console.WriteLine($"B1 ratio (1 item/POST): {ratio1:0.000} (target 0.6)");
Console.WriteLine($"B1 ratio (10 items/POST): {ratio10:0.000}");
await bareApp.StopAsync();
await service.StopAsync();
Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
Directory.Delete(data, recursive: true);
return 0;

List<byte[]> BuildBodies(int batch, int count)
{
    var list = new List<byte[]>(count);
    var sequence = 0L;
    for (var n = 0; n < count; n++)
    {
        var items = new JsonArray();
        for (var k = 0; k < batch; k++)
        {
            var userId = users[(n * batch + k) % users.Count];
            sequence++;
            var presence = $$"""{"id":"{{userId}}","availability":"{{(sequence % 2 == 0 ? "Available" : "Away")}}","activity":"{{(sequence % 2 == 0 ? "Available" : "Away")}}","sequenceNumber":"{{sequence:D20}}"}""";
            items.Add(new JsonObject
            {
                ["subscriptionId"] = subscription.Id,
                ["changeType"] = "updated",
                ["clientState"] = subscription.ClientState,
                ["tenantId"] = graph.Tenant.TenantId,
                ["resource"] = $"communications/presences('{userId}')",
                ["resourceData"] = new JsonObject { ["id"] = userId },
                ["encryptedContent"] = NotificationDelivery.Encrypt(Encoding.UTF8.GetBytes(presence), encryption, EncryptionCertificates.IdOf(encryption)),
            });
        }

        list.Add(Encoding.UTF8.GetBytes(new JsonObject { ["value"] = items, ["validationTokens"] = new JsonArray(token) }.ToJsonString()));
    }

    return list;
}

static async Task<(double Rps, long Errors)> LoadAsync(Uri url, List<byte[]> bodies, int seconds, int connections)
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

static async Task<(WebApplication App, Uri Url)> BareKestrelAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 tls)
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

int IntOption(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
