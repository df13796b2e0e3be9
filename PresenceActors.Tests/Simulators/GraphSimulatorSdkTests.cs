using System.IdentityModel.Tokens.Jwt;
using System.Text.Json;
using Azure.Core;
using Azure.Identity;
using Microsoft.Graph;
using Microsoft.Graph.Communications.GetPresencesByUserId;
using Microsoft.Graph.Models;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Graph.Users.Item.Presence.ClearPresence;
using Microsoft.Graph.Users.Item.Presence.SetPresence;
using Microsoft.Graph.Users.Item.Presence.SetUserPreferredPresence;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Kiota.Abstractions.Serialization;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Simulators;

/// <summary>The real Azure.Identity and Microsoft.Graph SDKs against the simulator over HTTPS.</summary>
public class GraphSimulatorSdkTests : IAsyncLifetime
{
    private SimulatedTenant _tenant = null!;

    public async Task InitializeAsync() => _tenant = await SimulatedTenant.StartAsync();

    public async Task DisposeAsync() => await _tenant.DisposeAsync();

    private SimTenant Tenant => _tenant.Sim.Tenant;

    [Fact]
    public async Task Client_credentials_and_password_grants_give_tokens_the_sdk_accepts()
    {
        var app = await _tenant.AppCredential().GetTokenAsync(new TokenRequestContext(["https://graph.microsoft.com/.default"]), default);
        var appClaims = new JwtSecurityTokenHandler().ReadJwtToken(app.Token);
        Assert.Equal(SimulatedTenant.ClientId, appClaims.Claims.Single(c => c.Type == "appid").Value);
        Assert.Equal("app", appClaims.Claims.Single(c => c.Type == "idtyp").Value);

        var user = await _tenant.UserCredential().GetTokenAsync(new TokenRequestContext(["https://graph.microsoft.com/Presence.Read.All"]), default);
        var userClaims = new JwtSecurityTokenHandler().ReadJwtToken(user.Token);
        Assert.Equal(_tenant.Technical.Id, userClaims.Claims.Single(c => c.Type == "oid").Value);

        var calls = _tenant.Sim.Faults.Calls.Where(c => c.Api == "token").ToList();
        Assert.Contains(calls, c => c.Caller == $"app:{SimulatedTenant.ClientId}" && c.Status == 200);
        Assert.Contains(calls, c => c.Caller == $"user:{SimulatedTenant.TechnicalUser}" && c.Status == 200);
    }

    public static TheoryData<int> AadstsCodes => new() { 50126, 50076, 50053, 50055, 7000215, 7000222, 7000218, 53003 };

    [Theory]
    [MemberData(nameof(AadstsCodes))]
    public async Task Injected_token_error_surfaces_as_the_sdks_own_exception_with_its_code(int code)
    {
        TokenCredential credential;
        switch (code)
        {
            case 7000215: // wrong secret
                credential = _tenant.AppCredential("not-the-secret");
                break;
            case 7000222: // expired secret
                Tenant.AddApplication(SimulatedTenant.ClientId, SimulatedTenant.ClientSecret, TimeSpan.FromSeconds(-1));
                credential = _tenant.AppCredential();
                break;
            case 7000218: // "Allow public client flows" is off, and ROPC sends no secret
                Tenant.FindApplication(SimulatedTenant.ClientId)!.AllowPublicClientFlows = false;
                credential = _tenant.UserCredential();
                break;
            case 50126: // wrong password
                credential = _tenant.UserCredential(password: "wrong");
                break;
            default: // MFA required, locked, password expired, conditional access: states of the technical user
                _tenant.Technical.InjectedError = code;
                credential = _tenant.UserCredential();
                break;
        }

        var scope = credential is ClientSecretCredential ? "https://graph.microsoft.com/.default" : "https://graph.microsoft.com/Presence.Read.All";
        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(
            async () => await credential.GetTokenAsync(new TokenRequestContext([scope]), default));
        Assert.Contains($"AADSTS{code}", error.ToString());
    }

    [Fact]
    public async Task Users_are_found_by_id_upn_and_mail()
    {
        var alex = Tenant.AddUser("alex@contoso.com", "Alex", mail: "alex.smith@contoso.com");
        var graph = _tenant.Graph(_tenant.AppCredential());

        Assert.Equal("Alex", (await graph.Users[alex.Id].GetAsync())!.DisplayName);
        Assert.Equal(alex.Id, (await graph.Users["alex@contoso.com"].GetAsync())!.Id);
        var byMail = await graph.Users.GetAsync(r => r.QueryParameters.Filter = "mail eq 'alex.smith@contoso.com'");
        Assert.Equal(alex.Id, Assert.Single(byMail!.Value!).Id);
        var missing = await Assert.ThrowsAsync<ODataError>(() => graph.Users["nobody@contoso.com"].GetAsync());
        Assert.Equal(404, missing.ResponseStatusCode);
    }

    [Fact]
    public async Task Set_and_clear_presence_with_our_session_and_404_when_it_is_gone()
    {
        var user = Tenant.AddUser("blair@contoso.com");
        var graph = _tenant.Graph(_tenant.AppCredential());
        await graph.Users[user.Id].Presence.SetPresence.PostAsync(new SetPresencePostRequestBody
        {
            SessionId = SimulatedTenant.ClientId, Availability = "Busy", Activity = "InACall", ExpirationDuration = TimeSpan.FromMinutes(5),
        });
        var during = await graph.Users[user.Id].Presence.GetAsync();
        Assert.Equal(("Busy", "InACall"), (during!.Availability, during.Activity));

        await graph.Users[user.Id].Presence.ClearPresence.PostAsync(new ClearPresencePostRequestBody { SessionId = SimulatedTenant.ClientId });
        var after = await graph.Users[user.Id].Presence.GetAsync();
        Assert.Equal(("Available", "Available"), (after!.Availability, after.Activity));
        Assert.True(string.CompareOrdinal(after.SequenceNumber, during.SequenceNumber) > 0);

        var gone = await Assert.ThrowsAsync<ODataError>(() =>
            graph.Users[user.Id].Presence.ClearPresence.PostAsync(new ClearPresencePostRequestBody { SessionId = SimulatedTenant.ClientId }));
        Assert.Equal(404, gone.ResponseStatusCode);
    }

    [Theory]
    [InlineData("another-app-id", "Busy", "InACall", 5, "sessionId")]
    [InlineData(SimulatedTenant.ClientId, "DoNotDisturb", "DoNotDisturb", 5, "not supported")]
    [InlineData(SimulatedTenant.ClientId, "Busy", "InACall", 4, "ExpirationDuration")]
    [InlineData(SimulatedTenant.ClientId, "Busy", "InACall", 241, "ExpirationDuration")]
    public async Task Set_presence_refuses_what_graph_refuses(string sessionId, string availability, string activity, int minutes, string message)
    {
        var user = Tenant.AddUser("casey@contoso.com");
        var graph = _tenant.Graph(_tenant.AppCredential());
        var error = await Assert.ThrowsAsync<ODataError>(() => graph.Users[user.Id].Presence.SetPresence.PostAsync(new SetPresencePostRequestBody
        {
            SessionId = sessionId, Availability = availability, Activity = activity, ExpirationDuration = TimeSpan.FromMinutes(minutes),
        }));
        Assert.Equal(400, error.ResponseStatusCode);
        Assert.Contains(message, error.Error!.Message);
    }

    [Fact]
    public async Task Session_expiry_turns_our_session_offline()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var sim = await GraphSimulator.StartAsync(new GraphSimulatorOptions { Clock = clock });
        var user = sim.Tenant.AddUser("dana@contoso.com");
        sim.Tenant.SetClient(user.Id, TeamsClientState.Offline);
        sim.Tenant.SetSessionPresence(user.Id, "app", "app", "Busy", "InACall", TimeSpan.FromMinutes(5));
        Assert.Equal("InACall", sim.Tenant.GetPresence(user.Id).Activity);

        clock.Advance(TimeSpan.FromMinutes(5));
        sim.Tenant.Tick();
        Assert.Equal(("Offline", "Offline"), (sim.Tenant.GetPresence(user.Id).Availability, sim.Tenant.GetPresence(user.Id).Activity));
    }

    [Fact]
    public async Task Bulk_presence_reads_up_to_650_ids_and_400_above()
    {
        var ids = Enumerable.Range(0, 3).Select(i => Tenant.AddUser($"bulk{i}@contoso.com").Id).ToList();
        var graph = _tenant.Graph(_tenant.AppCredential());
        var result = await graph.Communications.GetPresencesByUserId.PostAsGetPresencesByUserIdPostResponseAsync(
            new GetPresencesByUserIdPostRequestBody { Ids = ids });
        Assert.Equal(ids.Order(), result!.Value!.Select(p => p.Id!).Order());

        var tooMany = ids.Concat(Enumerable.Range(0, 648).Select(_ => Guid.NewGuid().ToString())).ToList();
        Assert.Equal(651, tooMany.Count);
        var error = await Assert.ThrowsAsync<ODataError>(() =>
            graph.Communications.GetPresencesByUserId.PostAsGetPresencesByUserIdPostResponseAsync(new GetPresencesByUserIdPostRequestBody { Ids = tooMany }));
        Assert.Equal(400, error.ResponseStatusCode);
    }

    [Fact]
    public async Task Retry_after_is_honoured_by_the_sdks_retry_handler()
    {
        var user = Tenant.AddUser("eli@contoso.com");
        _tenant.Sim.Faults.Add(new SimFault { Api = "presence.get", Status = 429, RetryAfterSeconds = 2, Count = 1 });
        var graph = _tenant.Graph(_tenant.AppCredential());

        var presence = await graph.Users[user.Id].Presence.GetAsync();

        Assert.Equal("Available", presence!.Availability);
        var calls = _tenant.Sim.Faults.Calls.Where(c => c.Api == "presence.get").ToList();
        Assert.Equal([429, 200], calls.Select(c => c.Status));
        // The SDK's wait runs on the monotonic timer and the log stamps the wall clock: they may disagree by a timer tick
        // (a run measured 1,999.7 ms). An SDK ignoring Retry-After retries within milliseconds, far below this bound.
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(50), $"retried after {(calls[1].At - calls[0].At).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Subscriptions_are_created_renewed_and_deleted_with_graphs_limits()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var ids = Enumerable.Range(0, 650).Select(i => Tenant.AddUser($"s{i}@contoso.com").Id).ToList();
        var graph = _tenant.Graph(_tenant.UserCredential());
        using var certificate = SimulatedTenant.EncryptionCertificate();

        Subscription Request(IEnumerable<string> users) =>
            SimulatedTenant.PresenceSubscription(users, receiver, "state-1", certificate, "cert-1", lifecycle: true, minutes: 55);

        var created = await graph.Subscriptions.PostAsync(Request(ids));
        Assert.Equal(_tenant.Technical.Id, created!.CreatorId);
        Assert.Equal(650, Tenant.ListSubscriptions().Single().UserIds.Count);

        var second = await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions.PostAsync(Request(ids.Take(1))));
        Assert.Equal(409, second.ResponseStatusCode);

        // Listing with a delegated token shows the signed-in user's subscriptions only; the application sees all.
        Tenant.AddUser("other-technical@contoso.com", "Other technical user", password: SimulatedTenant.TechnicalPassword, technical: true);
        var other = _tenant.Graph(_tenant.UserCredential("other-technical@contoso.com"));
        var othersOwn = await other.Subscriptions.PostAsync(Request([Tenant.AddUser("o0@contoso.com").Id]));
        Assert.Equal([created.Id], (await graph.Subscriptions.GetAsync())!.Value!.Select(v => v.Id));
        Assert.Equal([othersOwn!.Id], (await other.Subscriptions.GetAsync())!.Value!.Select(v => v.Id));
        Assert.Equal(2, Tenant.ListSubscriptions().Count);
        await other.Subscriptions[othersOwn.Id].DeleteAsync();

        var renewed = await graph.Subscriptions[created.Id].PatchAsync(new Subscription { ExpirationDateTime = DateTimeOffset.UtcNow.AddMinutes(59) });
        Assert.True(renewed!.ExpirationDateTime > created.ExpirationDateTime);

        await graph.Subscriptions[created.Id].DeleteAsync();
        Assert.Empty(Tenant.ListSubscriptions());
        var gone = await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions[created.Id].PatchAsync(new Subscription { ExpirationDateTime = DateTimeOffset.UtcNow.AddMinutes(30) }));
        Assert.Equal(404, gone.ResponseStatusCode);

        var tooMany = await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions.PostAsync(Request(ids.Append(Guid.NewGuid().ToString()))));
        Assert.Equal(400, tooMany.ResponseStatusCode);

        var unquoted = Request(ids.Take(2));
        unquoted.Resource = $"/communications/presences?$filter=id in ({ids[0]},{ids[1]})";
        Assert.Equal(400, (await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions.PostAsync(unquoted))).ResponseStatusCode);

        var tooLong = Request(ids.Take(2));
        tooLong.ExpirationDateTime = DateTimeOffset.UtcNow.AddMinutes(90);
        Assert.Equal(400, (await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions.PostAsync(tooLong))).ResponseStatusCode);

        var appOnly = await Assert.ThrowsAsync<ODataError>(() => _tenant.Graph(_tenant.AppCredential()).Subscriptions.PostAsync(Request(ids.Take(2))));
        Assert.Equal(403, appOnly.ResponseStatusCode);
    }

    [Fact]
    public async Task Subscription_fails_when_the_endpoint_does_not_echo_the_validation_token()
    {
        var user = Tenant.AddUser("frankie@contoso.com");
        var graph = _tenant.Graph(_tenant.UserCredential());
        var error = await Assert.ThrowsAsync<ODataError>(() => graph.Subscriptions.PostAsync(new Subscription
        {
            ChangeType = "updated",
            Resource = $"/communications/presences?$filter=id in ('{user.Id}')",
            NotificationUrl = "https://127.0.0.1:1/nobody-listens",
            ExpirationDateTime = DateTimeOffset.UtcNow.AddMinutes(30),
        }));
        Assert.Equal(400, error.ResponseStatusCode);
        Assert.Contains("validation", error.Error!.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Encrypted_notification_decrypts_with_the_sdks_helper_and_its_token_validates_against_the_jwks()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var user = Tenant.AddUser("gale@contoso.com");
        var graph = _tenant.Graph(_tenant.UserCredential());
        using var certificate = SimulatedTenant.EncryptionCertificate();
        var subscription = await graph.Subscriptions.PostAsync(
            SimulatedTenant.PresenceSubscription([user.Id], receiver, "our-client-state", certificate, "cert-2026"));

        Tenant.SetClient(user.Id, TeamsClientState.InACall);
        var body = await receiver.NextNotificationAsync();

        // Decrypt with the Graph SDK's own code path, not the simulator's.
        var collection = await KiotaJsonSerializer.DeserializeAsync(body.ToJsonString(), ChangeNotificationCollection.CreateFromDiscriminatorValue);
        var item = Assert.Single(collection!.Value!);
        Assert.Equal(subscription!.Id, item.SubscriptionId.ToString());
        Assert.Equal("our-client-state", item.ClientState);
        var plaintext = await item.EncryptedContent!.DecryptAsync((id, thumbprint) =>
        {
            Assert.Equal("cert-2026", id);
            Assert.Equal(certificate.Thumbprint, thumbprint, ignoreCase: true);
            return Task.FromResult(certificate);
        });
        using var presence = JsonDocument.Parse(plaintext);
        Assert.Equal("Busy", presence.RootElement.GetProperty("availability").GetString());
        Assert.Equal("InACall", presence.RootElement.GetProperty("activity").GetString());
        Assert.Equal(user.Id, presence.RootElement.GetProperty("id").GetString());

        // Validate the validationToken with Microsoft.IdentityModel against the simulator's published keys.
        var token = Assert.Single(collection.ValidationTokens!);
        var configuration = await new ConfigurationManager<OpenIdConnectConfiguration>(
            _tenant.Sim.OpenIdConfigurationUrl.ToString(), new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(new HttpClient(_tenant.Sim.CreateTrustingHandler()))).GetConfigurationAsync(default);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = $"https://sts.windows.net/{Tenant.TenantId}/",
            ValidAudience = SimulatedTenant.ClientId,
            IssuerSigningKeys = configuration.SigningKeys,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(NotificationDelivery.ChangeNotificationPublisherAppId, result.Claims["appid"]);

        // A token signed by anyone else does not validate.
        var forged = token[..token.LastIndexOf('.')] + ".AAAA";
        var forgedResult = await new JsonWebTokenHandler().ValidateTokenAsync(forged, new TokenValidationParameters
        {
            ValidIssuer = $"https://sts.windows.net/{Tenant.TenantId}/", ValidAudience = SimulatedTenant.ClientId, IssuerSigningKeys = configuration.SigningKeys,
        });
        Assert.False(forgedResult.IsValid);
    }

    [Fact]
    public async Task Failing_receiver_gets_the_notification_again_and_an_expired_subscription_delivers_nothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var user = Tenant.AddUser("harper@contoso.com");
        var graph = _tenant.Graph(_tenant.UserCredential());
        await graph.Subscriptions.PostAsync(SimulatedTenant.PresenceSubscription([user.Id], receiver, lifecycle: true));

        receiver.Status = 503;
        Tenant.SetClient(user.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _tenant.Sim.Delivery.FailedAttempts > 0);
        receiver.Status = 202;
        var retried = await receiver.NextNotificationAsync();
        Assert.Equal(user.Id, retried["value"]![0]!["resourceData"]!["id"]!.GetValue<string>());

        var subscription = Tenant.ListSubscriptions().Single();
        await _tenant.Sim.Delivery.SendLifecycleAsync(subscription, "reauthorizationRequired");
        var lifecycle = await receiver.NextLifecycleAsync();
        Assert.Equal("reauthorizationRequired", lifecycle["value"]![0]!["lifecycleEvent"]!.GetValue<string>());

        Tenant.LoseSubscription(subscription.Id);
        var delivered = _tenant.Sim.Delivery.Delivered;
        Tenant.SetClient(user.Id, TeamsClientState.Available);
        Tenant.SetClient(user.Id, TeamsClientState.InACall);
        Assert.Empty(Tenant.SubscriptionsWatching(user.Id));
        Assert.Equal(delivered, _tenant.Sim.Delivery.Delivered);
    }

    [Theory]
    [MemberData(nameof(Users.PresenceRulesTests.SeedTable), MemberType = typeof(Users.PresenceRulesTests))]
    public async Task Seed_table_row_is_reproduced_by_the_aggregation(
        string priorAvailability, string priorActivity, string duringAvailability, string duringActivity)
    {
        var user = Tenant.AddUser($"row-{priorAvailability}-{priorActivity}@contoso.com");
        var graph = _tenant.Graph(_tenant.AppCredential());
        switch ((priorAvailability, priorActivity))
        {
            case ("Available", "Available"):
                break;
            case ("Busy", "InAMeeting"):
                Tenant.SetMeeting(user.Id, true);
                break;
            default: // the user's own status
                await graph.Users[user.Id].Presence.SetUserPreferredPresence.PostAsync(new SetUserPreferredPresencePostRequestBody
                {
                    Availability = priorAvailability, Activity = priorActivity,
                });
                break;
        }

        var before = await graph.Users[user.Id].Presence.GetAsync();
        Assert.Equal((priorAvailability, priorActivity), (before!.Availability, before.Activity));

        await graph.Users[user.Id].Presence.SetPresence.PostAsync(new SetPresencePostRequestBody
        {
            SessionId = SimulatedTenant.ClientId, Availability = "Busy", Activity = "InACall", ExpirationDuration = TimeSpan.FromMinutes(5),
        });
        var during = await graph.Users[user.Id].Presence.GetAsync();
        Assert.Equal((duringAvailability, duringActivity), (during!.Availability, during.Activity));

        await graph.Users[user.Id].Presence.ClearPresence.PostAsync(new ClearPresencePostRequestBody { SessionId = SimulatedTenant.ClientId });
        var after = await graph.Users[user.Id].Presence.GetAsync();
        Assert.Equal((priorAvailability, priorActivity), (after!.Availability, after.Activity));
    }
}
