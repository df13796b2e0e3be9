using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// The webhook fuzzed with inputs that pass the cheap checks, so that the validationToken and decryption paths run on
/// every one: each input is freshly encrypted (its own data key) and carries its own freshly signed token, and exactly
/// one thing about it is wrong, or nothing. Every class is asserted: genuine items change each user's state exactly as
/// their content says, forged ones never do (they carry the highest sequence numbers and a marker state, so one that
/// slipped through would show), and each refusal is counted under its reason (docs/reliability.md, "Fuzzing").
/// </summary>
[Collection(Alone.Name)]
public class WebhookCryptoFuzzTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static int Scale => FuzzTests.Scale;

    /// <summary>What genuine content may say; the forged content always says Offline/OffWork, which no genuine input does.</summary>
    private static readonly (string Availability, string Activity)[] Genuine =
    [
        ("Available", "Available"), ("Busy", "InACall"), ("Away", "Away"), ("DoNotDisturb", "Presenting"), ("BeRightBack", "BeRightBack"), ("Busy", "Busy"),
    ];

    private static readonly (string Availability, string Activity) Forged = ("Offline", "OffWork");

    private enum Kind
    {
        Genuine,
        TamperedData,
        ForgedSignature,
        WrongDataKey,
        ContentOfAnotherUser,
        ExpiredToken,
        EarlyToken,
        TokenForAnotherApp,
        TokenFromAnotherIssuer,
        TokenFromAnotherPublisher,
        TokenOfAnotherTenant,
        TokenSignedByAStranger,
        NoToken,
        GarbageToken,
        WrongClientState,
    }

    private Loop _loop = null!;

    /// <summary>
    /// A clientState of the right shape that no key held signed: the genuine one's key id and account with another nonce
    /// and a made-up MAC, the same with an unknown key id, or the first version's format.
    /// </summary>
    private static string ForgedClientState(string genuine, int i)
    {
        var parts = genuine.Split('.'); // v2.{key id}.{account}.{nonce}.{mac}
        var mac = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (i % 3) switch
        {
            0 => $"v2.{parts[1]}.{parts[2]}.{i:x8}.{mac}",
            1 => $"v2.AAAAAAAA.{parts[2]}.{parts[3]}.{parts[4]}",
            _ => $"v1.{parts[2]}.{parts[3]}.{mac}",
        };
    }
    private List<(string UcUserId, SimUser Teams)> _users = null!;

    public async Task InitializeAsync()
    {
        _loop = await Loop.StartAsync();
        _users = await _loop.AddUsersAsync(16, prefix: "cfuzz");
        // The new subscription's read is done with (it leaves idle users alone: docs/scale.md), then each user's
        // presence is read for them by name, so that every actor knows it before the fuzzing starts.
        await _loop.ReadsHandedOnAsync(_users.Count);
        foreach (var (_, teams) in _users)
            await _loop.CaughtUpAsync(teams);
    }

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    [Fact]
    public async Task Freshly_encrypted_inputs_reach_token_and_decryption_checks_and_only_genuine_ones_change_state()
    {
        var subscription = _loop.Graph.Tenant.SubscriptionsWatching(_users[0].Teams.Id).Single();
        var clientState = subscription.ClientState!;
        Assert.All(_users, u => Assert.Equal(subscription.Id, _loop.Graph.Tenant.SubscriptionsWatching(u.Teams.Id).Single().Id));
        var certificate = _loop.Options.EncryptionCertificate!;
        var certificateId = EncryptionCertificates.IdOf(certificate);
        using var otherKey = System.Security.Cryptography.RSA.Create(2048);
        var otherCertificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=not ours", otherKey,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var stranger = new SimJwt(System.Security.Cryptography.RSA.Create(2048), "not-graphs-key");
        var tenant = _loop.Graph.Tenant.TenantId;
        var metrics = _loop.WebhookMetrics;
        var decryptor = _loop.Service.Services.GetRequiredService<NotificationDecryptor>();
        var (acceptedBefore, checksBefore, unwrappedBefore) = (metrics.Accepted, metrics.TokenChecks, decryptor.KeysUnwrapped);
        var droppedBefore = metrics.Dropped.ToDictionary(d => d.Key, d => d.Value);

        // Enough that both expensive paths run at least 30,000 times: the token check for every input past the
        // clientState check, the RSA decryption for every one with a valid token (a forged token is never decrypted).
        var count = 48_000 * Scale;
        var kinds = new Kind[count];
        var random = new Random(20261202);
        for (var i = 0; i < count; i++)
        {
            var roll = random.Next(100);
            kinds[i] = roll switch
            {
                < 40 => Kind.Genuine,
                < 48 => Kind.TamperedData,
                < 54 => Kind.ForgedSignature,
                < 59 => Kind.WrongDataKey,
                < 64 => Kind.ContentOfAnotherUser,
                < 95 => (Kind)((int)Kind.ExpiredToken + random.Next(9)),
                _ => Kind.WrongClientState,
            };
        }

        // The newest genuine content per user, by its sequence number: what each user's state must end at.
        var newest = new ConcurrentDictionary<string, (string Sequence, string Availability, string Activity)>();

        JsonObject Claims(JsonObject c)
        {
            c["uti"] = Guid.NewGuid().ToString("N"); // every token distinct: each one is validated, none found in the cache
            return c;
        }

        string? Token(Kind kind) => kind switch
        {
            Kind.ExpiredToken => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c =>
            {
                Claims(c);
                c["nbf"] = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds();
                c["exp"] = DateTimeOffset.UtcNow.AddMinutes(-6).ToUnixTimeSeconds();
            }),
            Kind.EarlyToken => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c => Claims(c)["nbf"] = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()),
            Kind.TokenForAnotherApp => _loop.Graph.Delivery.ValidationToken(Guid.NewGuid().ToString(), c => Claims(c)),
            Kind.TokenFromAnotherIssuer => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c => Claims(c)["iss"] = $"https://login.example.net/{tenant}/"),
            Kind.TokenFromAnotherPublisher => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c => Claims(c)["appid"] = Guid.NewGuid().ToString()),
            Kind.TokenOfAnotherTenant => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c => Claims(c)["tid"] = Guid.NewGuid().ToString()),
            Kind.TokenSignedByAStranger => stranger.Sign(Claims(new JsonObject
            {
                ["aud"] = Loop.ClientId, ["iss"] = $"https://sts.windows.net/{tenant}/", ["tid"] = tenant,
                ["appid"] = NotificationDelivery.ChangeNotificationPublisherAppId,
                ["nbf"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
            })),
            Kind.NoToken => null,
            Kind.GarbageToken => "eyJhbGciOiJSUzI1NiJ9.not-a-token." + Guid.NewGuid().ToString("N"),
            _ => _loop.Graph.Delivery.ValidationToken(Loop.ClientId, c => Claims(c)),
        };

        HttpRequestMessage Make(int i)
        {
            var kind = kinds[i];
            var user = _users[i % _users.Count].Teams.Id;
            var genuine = kind == Kind.Genuine;
            // Genuine sequence numbers rise with i; every forged one is newer than all of them.
            var sequence = genuine ? $"5{i:D19}" : $"7{i:D19}";
            var (availability, activity) = genuine ? Genuine[(i * 7 + i / 3) % Genuine.Length] : Forged;
            var contentUser = kind == Kind.ContentOfAnotherUser ? _users[(i + 1) % _users.Count].Teams.Id : user;
            var plaintext = Encoding.UTF8.GetBytes(
                $$"""{"id":"{{contentUser}}","availability":"{{availability}}","activity":"{{activity}}","sequenceNumber":"{{sequence}}"}""");
            var content = kind == Kind.WrongDataKey
                ? NotificationDelivery.Encrypt(plaintext, otherCertificate, "not-ours") // a data key only another certificate unwraps
                : NotificationDelivery.Encrypt(plaintext, certificate, certificateId);
            content["encryptionCertificateId"] = certificateId;
            content["encryptionCertificateThumbprint"] = certificate.Thumbprint;
            if (kind == Kind.TamperedData)
            {
                var data = Convert.FromBase64String(content["data"]!.GetValue<string>());
                data[i % data.Length] ^= (byte)(1 + i % 255);
                content["data"] = Convert.ToBase64String(data);
            }
            else if (kind == Kind.ForgedSignature)
            {
                content["dataSignature"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            }

            if (genuine)
            {
                newest.AddOrUpdate(user, (sequence, availability, activity),
                    (_, old) => string.CompareOrdinal(sequence, old.Sequence) > 0 ? (sequence, availability, activity) : old);
            }

            var body = new JsonObject
            {
                ["value"] = new JsonArray(new JsonObject
                {
                    ["subscriptionId"] = subscription.Id,
                    ["changeType"] = "updated",
                    ["clientState"] = kind == Kind.WrongClientState ? ForgedClientState(clientState, i) : clientState,
                    ["tenantId"] = tenant,
                    ["resource"] = $"communications/presences('{user}')",
                    ["resourceData"] = new JsonObject { ["id"] = user },
                    ["encryptedContent"] = content,
                }),
            };
            if (Token(kind) is { } token)
                body["validationTokens"] = new JsonArray(token);
            return new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_loop.Ports.Webhook}/graph/listen")
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            };
        }

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8, SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
        var answers = new ConcurrentDictionary<HttpStatusCode, int>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var made = Make(i);
                var body = await made.Content!.ReadAsStringAsync();
                while (true)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, made.RequestUri) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    using var response = await http.SendAsync(request);
                    answers.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
                    // The ingress backlog full: sent again, as Graph does.
                    if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                        break;
                }
            }
        }));
        output.WriteLine($"{count} inputs; answers: {string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{(int)a.Key}: {a.Value}"))}");
        // Every input that passed the cheap checks is acknowledged (202), the forged clientStates included (Graph is
        // never told which items were refused); nothing is answered 4xx or 5xx for good.
        Assert.Equal(count, answers.GetValueOrDefault(HttpStatusCode.Accepted));
        Assert.All(answers.Keys, a => Assert.Contains(a, new[] { HttpStatusCode.Accepted, HttpStatusCode.ServiceUnavailable }));

        int Of(params Kind[] which) => kinds.Count(which.Contains);
        long Dropped(string reason) => metrics.DroppedFor(reason) - droppedBefore.GetValueOrDefault(reason);
        var tokenKinds = new[]
        {
            Kind.ExpiredToken, Kind.EarlyToken, Kind.TokenForAnotherApp, Kind.TokenFromAnotherIssuer, Kind.TokenFromAnotherPublisher,
            Kind.TokenOfAnotherTenant, Kind.TokenSignedByAStranger, Kind.NoToken, Kind.GarbageToken,
        };
        var admitted = count - Of(Kind.WrongClientState);
        // The positive sign that every input was processed: each is accounted for as accepted or dropped for its reason.
        await Eventually.TrueAsync(() => metrics.Accepted - acceptedBefore + Dropped("bad-signature") + Dropped("undecryptable") + Dropped("bad-content")
                                         + Dropped("validation-token") >= admitted,
            TimeSpan.FromMinutes(5), "every admitted input processed",
            () => $"accepted {metrics.Accepted - acceptedBefore}, dropped {string.Join(", ", metrics.Dropped.Select(d => $"{d.Key} {d.Value - droppedBefore.GetValueOrDefault(d.Key)}"))}");

        var tokenChecks = metrics.TokenChecks - checksBefore;
        var decryptions = decryptor.KeysUnwrapped - unwrappedBefore;
        output.WriteLine($"{admitted} inputs passed the clientState check; validationToken checks {tokenChecks}, RSA decryptions {decryptions}");
        output.WriteLine(string.Join(", ", Enum.GetValues<Kind>().Select(k => $"{k} {Of(k)}")));
        Assert.True(tokenChecks >= admitted, $"token checks {tokenChecks} < {admitted}");
        Assert.True(decryptions >= admitted - Of(tokenKinds), $"decryptions {decryptions} < {admitted - Of(tokenKinds)}");
        Assert.True(decryptions >= 30_000 * Scale, $"only {decryptions} RSA decryptions");

        Assert.Equal(Of(Kind.Genuine), metrics.Accepted - acceptedBefore);
        Assert.Equal(Of(Kind.TamperedData, Kind.ForgedSignature), Dropped("bad-signature"));
        Assert.Equal(Of(Kind.WrongDataKey), Dropped("undecryptable"));
        Assert.Equal(Of(Kind.ContentOfAnotherUser), Dropped("bad-content"));
        Assert.Equal(Of(tokenKinds), Dropped("validation-token"));
        Assert.Equal(Of(Kind.WrongClientState), Dropped("client-state"));
        Assert.Equal(0, Dropped("duplicate"));

        // Each user ends exactly where its newest genuine content put it; no forged content (newer by sequence, and a
        // state no genuine input has) was ever applied. UC follows: Busy while the last genuine content is a call.
        foreach (var (ucUserId, teams) in _users)
        {
            var want = newest[teams.Id];
            var state = await _loop.StateOfAsync(teams.Id);
            Assert.Equal((want.Availability, want.Activity, want.Sequence), (state.Teams!.Availability.Value, state.Teams.Activity.Value, state.Teams.SequenceNumber));
            Assert.DoesNotContain(state.History, h => h.Detail.Contains("OffWork", StringComparison.Ordinal));
            var inCall = want.Activity == "InACall";
            await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == (inCall ? "Busy" : "Available"), TimeSpan.FromSeconds(30),
                $"{ucUserId} on UC as its last genuine Teams state ({want.Availability}/{want.Activity}) says");
        }
    }
}
