using System.Collections.Concurrent;
using Akka.Actor;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Host.Configuration;
using PresenceActors.Registration;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Generated bad input against the public webhook, the internal API and the properties reader (100,000 inputs in all in
/// CI; PRESENCE_FUZZ_SCALE multiplies them for a soak): no crash, no 5xx, no state change, bounded memory, and every
/// refusal a 4xx that says what was wrong.
/// </summary>
[Collection(Alone.Name)]
public class FuzzTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>PRESENCE_FUZZ_SCALE: how many times the CI's number of inputs every fuzz test sends (the soak run's 10).</summary>
    internal static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("PRESENCE_FUZZ_SCALE"), out var s) && s > 0 ? s : 1;
    private Loop _loop = null!;
    private (string UcUserId, SimUser Teams) _user;

    public async Task InitializeAsync()
    {
        _loop = await Loop.StartAsync();
        _user = (await _loop.AddUsersAsync(1, prefix: "fuzz"))[0];
        // The state to keep: Teams presence read once the subscription is up (the new subscription's read leaves an idle
        // user alone, docs/scale.md, so it is read for them by name once that one is done with), UC status reported.
        await _loop.ReadsHandedOnAsync(1);
        await _loop.CaughtUpAsync(_user.Teams);
    }

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private sealed record Outcome(int Inputs, ConcurrentDictionary<int, int> Statuses, ConcurrentQueue<string> Violations);

    /// <summary>What must hold before and after: the user's state, UC updates and Teams writes, registrations.</summary>
    private async Task<string> SnapshotAsync()
    {
        var state = await _loop.StateOfAsync(_user.Teams.Id);
        var mappings = await Akka.Hosting.ActorRegistry.For(_loop.System).Get<PresenceActors.Registration.UserRegistryKey>()
            .AllMappingsAsync(TimeSpan.FromSeconds(10));
        return $"teams={state.Teams} uc={state.UcCurrent} history={state.History.Count} ucUpdates={_loop.Uc.Updates.Count} " +
               $"sets={_loop.Graph.Faults.Calls.Count(c => c.Api is "presence.set" or "presence.clear")} " +
               $"registered={string.Join(",", mappings.Select(m => m.UcUserId))}";
    }

    /// <param name="expected5xx">Which 5xx answers the input called for (none unless given).</param>
    private static async Task<Outcome> SendAllAsync(int count, int parallel, Func<int, HttpRequestMessage> make, Func<int, HttpStatusCode, string, string?> check,
        Func<int, HttpStatusCode, bool>? expected5xx = null)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = parallel,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        }) { Timeout = TimeSpan.FromSeconds(60) };
        var statuses = new ConcurrentDictionary<int, int>();
        var violations = new ConcurrentQueue<string>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var request = make(i);
                var what = $"#{i} {request.Method} {request.RequestUri!.PathAndQuery[..Math.Min(80, request.RequestUri.PathAndQuery.Length)]} " +
                           $"({request.Content?.Headers.ContentType?.MediaType ?? "no type"}, {request.Content?.Headers.ContentLength ?? 0} bytes: " +
                           $"{(request.Content is null ? "" : Encoding.UTF8.GetString((await request.Content.ReadAsByteArrayAsync())[..Math.Min(60, (int)(request.Content.Headers.ContentLength ?? 0))]))})";
                try
                {
                    using var response = await http.SendAsync(request);
                    // Decoded as sent: ReadAsStringAsync would take a leading U+FEFF for a byte order mark and drop it.
                    var body = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync());
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    if ((int)response.StatusCode >= 500 && !(expected5xx?.Invoke(i, response.StatusCode) ?? false))
                        violations.Enqueue($"{what}: {(int)response.StatusCode} {body[..Math.Min(300, body.Length)]}");
                    else if (body.Contains("   at ", StringComparison.Ordinal) || body.Contains("Exception", StringComparison.Ordinal))
                        violations.Enqueue($"{what}: a stack trace or exception name in the answer: {body[..Math.Min(300, body.Length)]}");
                    else if (!RefusedByServer(request, response.StatusCode, body) && check(i, response.StatusCode, body) is { } problem)
                        violations.Enqueue($"{what}: {problem}");
                }
                catch (HttpRequestException e)
                {
                    // The server may close the connection on a body it refuses outright (too large); that is a refusal, not a crash.
                    statuses.AddOrUpdate(-1, 1, (_, n) => n + 1);
                    if (e.HttpRequestError is not (HttpRequestError.ResponseEnded or HttpRequestError.Unknown))
                        violations.Enqueue($"{what}: {e.HttpRequestError} {e.Message}");
                }
            }
        }));
        return new Outcome(count, statuses, violations);
    }

    /// <summary>
    /// Whether the body parses as a notification collection whose first item's encryptedContent names a certificate (by
    /// id or thumbprint, as strings) and neither is the node's: the node cannot decrypt it.
    /// </summary>
    /// <summary>
    /// Whether an item of the body names a certificate the node does not hold, read as the webhook reads it
    /// (System.Text.Json's document, where a repeated property is not an error).
    /// </summary>
    private static bool NamesAnotherCertificate(byte[] body, System.Security.Cryptography.X509Certificates.X509Certificate2 held)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body, new System.Text.Json.JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !document.RootElement.TryGetProperty("value", out var items) || items.ValueKind != System.Text.Json.JsonValueKind.Array)
                return false;
            foreach (var item in items.EnumerateArray())
            {
                if (item.ValueKind != System.Text.Json.JsonValueKind.Object || !item.TryGetProperty("encryptedContent", out var content)
                    || content.ValueKind != System.Text.Json.JsonValueKind.Object)
                    continue;
                var id = Text(content, "encryptionCertificateId");
                var thumbprint = Text(content, "encryptionCertificateThumbprint");
                if ((!string.IsNullOrEmpty(id) || !string.IsNullOrEmpty(thumbprint))
                    && id != EncryptionCertificates.IdOf(held) && !string.Equals(thumbprint, held.Thumbprint, StringComparison.OrdinalIgnoreCase))
                    return true;
            }

            return false;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            return false; // not JSON, or a string that is not UTF-8 (the webhook refuses both before reading an item)
        }

        static string? Text(System.Text.Json.JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>A refusal names the field it is about (problem+json with "field"), except routing's bare 405 and 404.</summary>
    private static string? ClearRefusal(HttpStatusCode status, string body) =>
        (int)status is >= 400 and < 500 and not 405 and not 404 and not 413 && !body.Contains("\"field\"", StringComparison.Ordinal)
            ? $"{(int)status} without a field: {body[..Math.Min(200, body.Length)]}"
            : null;

    /// <summary>Kestrel itself refuses a request line with a NUL or other control character (400, no body) before any endpoint runs.</summary>
    private static bool RefusedByServer(HttpRequestMessage request, HttpStatusCode status, string body) =>
        status == HttpStatusCode.BadRequest && body.Length == 0 && request.RequestUri!.AbsolutePath.Contains("%0", StringComparison.OrdinalIgnoreCase);

    private void AssertClean(Outcome outcome, int minimumRefusals)
    {
        output.WriteLine($"{outcome.Inputs} inputs; answers: {string.Join(", ", outcome.Statuses.OrderBy(s => s.Key).Select(s => $"{(s.Key < 0 ? "connection closed" : s.Key)}: {s.Value}"))}");
        Assert.True(outcome.Violations.IsEmpty, $"{outcome.Violations.Count} violations, first: {string.Join("\n", outcome.Violations.Take(5))}");
        Assert.Equal(outcome.Inputs, outcome.Statuses.Values.Sum());
        // A connection the server closed while an oversized body was still being sent is a refusal as well (413 written, upload cut).
        Assert.True(outcome.Statuses.Where(s => s.Key is >= 400 and < 500 or -1).Sum(s => s.Value) >= minimumRefusals,
            string.Join(", ", outcome.Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));
    }

    /// <summary>Memory stays bounded: what the managed heap kept after the inputs, measured after a full collection.</summary>
    private void AssertHeapBounded(long before)
    {
        var grown = SettledHeap() - before;
        output.WriteLine($"managed heap grew {grown / 1e6:0.0} MB");
        Assert.InRange(grown, long.MinValue, 256L * 1024 * 1024);
    }

    private static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    [Fact]
    public async Task Webhook_refuses_35000_generated_inputs_with_clear_4xx_and_changes_nothing()
    {
        var subscription = _loop.Graph.Tenant.SubscriptionsWatching(_user.Teams.Id).Single();
        var certificate = _loop.Options.EncryptionCertificate!;
        var current = _loop.Graph.Tenant.GetPresence(_user.Teams.Id);
        // The valid input: the user's current presence with a sequence number that is not newer (so even an input the
        // mutations leave valid changes nothing), in the envelope Graph sends.
        var presence = $$"""{"id":"{{_user.Teams.Id}}","availability":"{{current.Availability}}","activity":"{{current.Activity}}","sequenceNumber":"00000000000000000000"}""";
        var valid = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["value"] = new JsonArray(new JsonObject
            {
                ["subscriptionId"] = subscription.Id,
                ["changeType"] = "updated",
                ["clientState"] = subscription.ClientState,
                ["tenantId"] = _loop.Graph.Tenant.TenantId,
                ["resource"] = $"communications/presences('{_user.Teams.Id}')",
                ["resourceData"] = new JsonObject { ["id"] = _user.Teams.Id },
                ["encryptedContent"] = NotificationDelivery.Encrypt(Encoding.UTF8.GetBytes(presence), certificate, EncryptionCertificates.IdOf(certificate)),
            }),
            ["validationTokens"] = new JsonArray(_loop.Graph.Delivery.ValidationToken(Loop.ClientId)),
        }.ToJsonString());
        var lifecycle = Encoding.UTF8.GetBytes($$"""{"value":[{"subscriptionId":"{{subscription.Id}}","lifecycleEvent":"missed","clientState":"{{subscription.ClientState}}","tenantId":"{{_loop.Graph.Tenant.TenantId}}"}]}""");
        var root = $"https://127.0.0.1:{_loop.Ports.Webhook}/graph/";
        var max = _loop.Options.MaxWebhookBodyBytes;
        var fuzz = new Fuzz(20261126);
        var tokens = new ConcurrentDictionary<int, string>();
        // Inputs whose (authentic) item names a certificate the node does not hold: answered 503, never a silent 202.
        var foreignCertificate = new ConcurrentDictionary<int, bool>();
        var unknownBefore = _loop.WebhookMetrics.UnknownCertificates;

        var before = await SnapshotAsync();
        var ingressLog = _loop.Service.Services.GetRequiredService<PresenceActors.Ingress.IngressLog>();
        var (appendedBefore, handledBefore) = (ingressLog.Appended, ingressLog.HandledOnce);
        var heap = SettledHeap();
        var count = 35_000 * Scale;
        var outcome = await SendAllAsync(count, 8, i =>
        {
            Fuzz f;
            lock (fuzz)
                f = new Fuzz(fuzz.Random.Next());
            var path = i % 4 == 3 ? "lifecycle" : "listen";
            var template = path == "lifecycle" ? lifecycle : valid;
            var kind = f.Random.Next(100);
            if (kind < 4)
                return new HttpRequestMessage(f.Pick([HttpMethod.Get, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Options]), root + path);
            if (kind < 8)
            {
                tokens[i] = f.OddString();
                return new HttpRequestMessage(HttpMethod.Post, $"{root}{path}?validationToken={Uri.EscapeDataString(tokens[i])}");
            }

            var body = kind < 9 ? new byte[max + 1 + f.Random.Next(1000)] : f.Mutate(template);
            if (path == "listen" && NamesAnotherCertificate(body, certificate))
                foreignCertificate[i] = true;
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = kind < 12 ? new MediaTypeHeaderValue(f.Pick(["text/plain", "application/xml", "multipart/form-data", "application/x-www-form-urlencoded"])) : new MediaTypeHeaderValue("application/json");
            if (kind is >= 12 and < 13)
                content.Headers.ContentType = null;
            return new HttpRequestMessage(HttpMethod.Post, root + path) { Content = content };
        }, (i, status, body) =>
        {
            if (tokens.TryGetValue(i, out var token))
                return status == HttpStatusCode.OK && body == token ? null : $"the validationToken was not echoed exactly ({(int)status})";
            if (status == HttpStatusCode.ServiceUnavailable && foreignCertificate.ContainsKey(i))
                return null; // named a certificate the node lacks: 503 is the answer (counted below)
            return status is HttpStatusCode.Accepted || (int)status is >= 400 and < 500 ? ClearRefusal(status, body) : $"unexpected {(int)status}: {body[..Math.Min(300, body.Length)]}";
        }, expected5xx: (i, status) => status == HttpStatusCode.ServiceUnavailable && foreignCertificate.ContainsKey(i));

        AssertClean(outcome, minimumRefusals: count / 2);
        // Every 503 was such an input, and each was counted as an unknown certificate (a valid clientState still leads
        // there; a mutation elsewhere in the same input may have stopped it first).
        var unavailable = outcome.Statuses.GetValueOrDefault(503);
        output.WriteLine($"{foreignCertificate.Count} inputs named a certificate the node does not hold; {unavailable} of them passed the clientState check and were answered 503");
        Assert.Equal(unavailable, _loop.WebhookMetrics.UnknownCertificates - unknownBefore);
        // Nothing changed, asserted once every item the webhook took was looked at by the processing behind it.
        var ingress = _loop.Service.Services.GetRequiredService<PresenceActors.Ingress.IngressLog>();
        await Eventually.TrueAsync(() => ingress.HandledOnce - handledBefore == ingress.Appended - appendedBefore, TimeSpan.FromMinutes(2),
            "every admitted item handled once", () => $"appended {ingress.Appended - appendedBefore}, handled {ingress.HandledOnce - handledBefore}");
        output.WriteLine($"{ingress.Appended - appendedBefore} items admitted to the ingress log and handled");
        Assert.Equal(before, await SnapshotAsync());
        AssertHeapBounded(heap);
        // The duplicate filter and the clientState check are still working after it all: a real change goes through.
        _loop.Graph.Tenant.SetClient(_user.Teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(_user.UcUserId)!.Status == "Busy", what: "a real Teams call after the fuzzing");
    }

    [Fact]
    public async Task Internal_api_refuses_15000_generated_inputs_with_clear_4xx_and_changes_nothing()
    {
        var root = $"https://127.0.0.1:{_loop.Ports.InternalApi}/api/v1/";
        var fuzz = new Fuzz(4711);
        // A real user the UC back end could register: a registration that got through would show in the snapshot.
        var target = _loop.Graph.Tenant.AddUser($"fz-target.{Guid.NewGuid():N}@contoso.com");
        var before = await SnapshotAsync();
        var heap = SettledHeap();
        var count = 15_000 * Scale;
        var outcome = await SendAllAsync(count, 8, i =>
        {
            Fuzz f;
            lock (fuzz)
                f = new Fuzz(fuzz.Random.Next());
            HttpRequestMessage request;
            var kind = f.Random.Next(100);
            var stranger = $"fz-{Uri.EscapeDataString(f.OddString())}-{i}";
            if (kind < 25) // register: an unknown Teams user, or a mutated body
            {
                var body = kind < 10 ? Encoding.UTF8.GetBytes($$"""{"teamsUser":{{System.Text.Json.JsonSerializer.Serialize(f.OddString())}}}""") : f.Mutate("""{"teamsUser":"nobody@contoso.com"}"""u8.ToArray());
                request = new HttpRequestMessage(HttpMethod.Put, $"{root}users/{stranger}") { Content = Json(body) };
            }
            else if (kind < 50) // a presence report: well-formed for a stranger, malformed for the registered user
            {
                var valid = """{"status":"Busy","onPhone":true,"at":"2026-11-26T10:00:00Z"}"""u8.ToArray();
                var body = f.Mutate(valid);
                var broken = body.Length > 1 ? body[..^1] : body; // never valid JSON for the registered user
                request = kind < 38
                    ? new HttpRequestMessage(HttpMethod.Post, $"{root}users/{stranger}/presence") { Content = Json(body) }
                    : new HttpRequestMessage(HttpMethod.Post, $"{root}users/{Uri.EscapeDataString(_user.UcUserId)}/presence") { Content = Json(broken) };
            }
            else if (kind < 65) // the bulk list: items that cannot be valid, so nothing is removed
            {
                var item = f.Random.Next(3) switch
                {
                    0 => $$"""{"ucUserId":{{f.Pick(["1", "null", "[]", "{}", "\"\""])}},"teamsUser":"x@contoso.com"}""",
                    1 => """{"teamsUser":"x@contoso.com"}""",
                    _ => $$"""{"ucUserId":"a","teamsUser":"x"},{"ucUserId":"a","teamsUser":"y"}""",
                };
                var body = f.Random.Next(2) == 0 ? Encoding.UTF8.GetBytes($"[{item}]") : f.Mutate(Encoding.UTF8.GetBytes("{\"users\":[]}"));
                if (body.AsSpan().Trim((byte)' ').SequenceEqual("[]"u8))
                    body = "[1]"u8.ToArray();
                request = new HttpRequestMessage(HttpMethod.Put, $"{root}users") { Content = Json(body) };
            }
            else if (kind < 73) // reads and removals of strangers
            {
                request = new HttpRequestMessage(f.Pick([HttpMethod.Get, HttpMethod.Delete]), $"{root}users/{stranger}");
            }
            else if (kind < 80) // wrong methods and content types
            {
                request = new HttpRequestMessage(f.Pick([HttpMethod.Patch, HttpMethod.Post, HttpMethod.Options]), $"{root}users");
                request.Content = new StringContent(f.OddString(), Encoding.UTF8, f.Pick(["text/plain", "application/xml"]));
            }
            else // requests that would change state if they were let in, with no key, a wrong one, or another scheme
            {
                var user = Uri.EscapeDataString(_user.UcUserId);
                var at = DateTimeOffset.UtcNow.ToString("O");
                request = f.Random.Next(5) switch
                {
                    // the registered user's UC call starting now
                    0 => new HttpRequestMessage(HttpMethod.Post, $"{root}users/{user}/presence") { Content = Json(Encoding.UTF8.GetBytes($$"""{"status":"Busy","onPhone":true,"at":"{{at}}"}""")) },
                    // a real Teams user registered
                    1 => new HttpRequestMessage(HttpMethod.Put, $"{root}users/fz-target-{i}") { Content = Json(Encoding.UTF8.GetBytes($$"""{"teamsUser":"{{target.UserPrincipalName}}"}""")) },
                    // the registered user removed
                    2 => new HttpRequestMessage(HttpMethod.Delete, $"{root}users/{user}"),
                    // the whole list replaced, its removal confirmed
                    3 => new HttpRequestMessage(HttpMethod.Put, $"{root}users?confirmRemoval=1")
                    {
                        Content = Json(Encoding.UTF8.GetBytes($$"""[{"ucUserId":"fz-target-{{i}}","teamsUser":"{{target.UserPrincipalName}}"}]""")),
                    },
                    // every user's status at once
                    _ => new HttpRequestMessage(HttpMethod.Post, $"{root}presence") { Content = Json(Encoding.UTF8.GetBytes($$"""[{"ucUserId":"{{_user.UcUserId}}","status":"Busy","onPhone":true,"at":"{{at}}"}]""")) },
                };
                request.Headers.Authorization = f.Random.Next(4) switch
                {
                    0 => null,
                    1 => new AuthenticationHeaderValue("Bearer", "x" + new string(f.OddString().Where(c => c > ' ' && c < 0x7F).ToArray())),
                    2 => new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"uc:{Loop.ApiKey}"))),
                    _ => new AuthenticationHeaderValue("Bearer", Loop.ApiKey[..^1]), // all but its last character
                };
                return request;
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Loop.ApiKey);
            return request;
        }, (_, status, body) => (int)status is >= 400 and < 500 ? ClearRefusal(status, body) : $"accepted ({(int)status}): {body[..Math.Min(200, body.Length)]}");

        AssertClean(outcome, minimumRefusals: count);
        Assert.Equal(before, await SnapshotAsync());
        AssertHeapBounded(heap);
    }

    [Fact]
    public void Properties_reader_survives_50000_generated_files_and_names_the_line_or_key_of_every_problem()
    {
        var valid = File.ReadAllText(Path.Combine(Root(), "deploy", "application.properties"));
        var data = Directory.CreateTempSubdirectory("presence-fuzz-config").FullName;
        var fuzz = new Fuzz(1234);
        var loaded = 0;
        var refused = 0;
        try
        {
            for (var i = 0; i < 50_000 * Scale; i++)
            {
                var bytes = fuzz.Mutate(Encoding.UTF8.GetBytes(valid));
                // Lines and escapes a hand-edited file gets wrong, on top of the byte-level mutations.
                var text = Encoding.UTF8.GetString(bytes);
                if (i % 3 == 0)
                    text += fuzz.Pick(["\nbroken line without separator", "\nkey.with.escape = \\u12", "\ntrailing = continuation\\", "\n= no key", "\npresence.admin.port = 99999999999",
                        "\npresence.cluster.seeds = akka.tcp://x@", "\nwebhook.receiver = ftp://nope", "\nazure.activedirectory.tenantId = " + fuzz.OddString()]);
                var parsed = PropertiesFile.Parse(text, out var syntax);
                Assert.All(syntax, p => Assert.Matches(@"^line \d+", p));
                if (i % 10 != 0)
                    continue;
                var configuration = new ConfigurationBuilder()
                    .AddInMemoryCollection(parsed.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value)))
                    .AddInMemoryCollection([KeyValuePair.Create("presence.dataFolder", (string?)data)])
                    .Build();
                var options = PresenceConfiguration.Load(configuration, out var problems);
                if (options is null)
                {
                    refused++;
                    Assert.NotEmpty(problems);
                    Assert.All(problems, p => Assert.Matches(@"(azure\.|webhook\.|presence\.|technical)", p));
                }
                else
                {
                    loaded++;
                }
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }

        output.WriteLine($"{50_000 * Scale} files parsed; {loaded + refused} loaded as configuration: {loaded} valid, {refused} refused naming a key");
        Assert.True(refused > 0 && loaded > 0, $"loaded {loaded}, refused {refused}: the generator should reach both");
    }

    private static string Root([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
